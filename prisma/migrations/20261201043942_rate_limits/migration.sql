-- AlterTable
ALTER TABLE "Plan" ADD COLUMN     "maxConcurrentPredictions" INTEGER NOT NULL DEFAULT 10,
ADD COLUMN     "rateLimitBurst" INTEGER NOT NULL DEFAULT 60;

-- The shipped plans' rate limits (scripts/seed.ts upserts the same values)
UPDATE "Plan" SET "rateLimitBurst" = 60, "maxConcurrentPredictions" = 10 WHERE "key" = 'free';
UPDATE "Plan" SET "rateLimitBurst" = 300, "maxConcurrentPredictions" = 100 WHERE "key" = 'pro';
UPDATE "Plan" SET "rateLimitBurst" = 2000, "maxConcurrentPredictions" = 500 WHERE "key" = 'enterprise';
