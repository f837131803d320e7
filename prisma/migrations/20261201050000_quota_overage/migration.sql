-- CreateEnum
CREATE TYPE "QuotaOverage" AS ENUM ('block', 'allow');

-- AlterTable
ALTER TABLE "Plan" ADD COLUMN     "quotaOverage" "QuotaOverage" NOT NULL DEFAULT 'block';

-- The shipped plans (scripts/seed.ts upserts the same values): pro includes 100,000 units a month and bills overage.
UPDATE "Plan" SET "quotaOverage" = 'allow', "monthlyQuotaUnits" = 100000 WHERE "key" = 'pro';
