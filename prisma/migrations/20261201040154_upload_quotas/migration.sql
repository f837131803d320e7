-- AlterTable
ALTER TABLE "ModelVersion" ADD COLUMN     "deletedAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "Plan" ADD COLUMN     "maxModelStorageBytes" BIGINT NOT NULL DEFAULT 1073741824,
ADD COLUMN     "maxModelVersions" INTEGER NOT NULL DEFAULT 100;

-- The shipped plans' quotas (scripts/seed.ts upserts the same values)
UPDATE "Plan" SET "maxModelStorageBytes" = 268435456, "maxModelVersions" = 20 WHERE "key" = 'free';
UPDATE "Plan" SET "maxModelStorageBytes" = 21474836480, "maxModelVersions" = 1000 WHERE "key" = 'pro';
