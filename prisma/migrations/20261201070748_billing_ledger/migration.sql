-- AlterTable
ALTER TABLE "Plan" ADD COLUMN     "currency" TEXT NOT NULL DEFAULT 'usd',
ADD COLUMN     "unitPrice" TEXT NOT NULL DEFAULT '0';

-- AlterTable
ALTER TABLE "UsageEvent" ADD COLUMN     "model" TEXT NOT NULL DEFAULT '';

-- CreateTable
CREATE TABLE "UsageRollup" (
    "orgId" UUID NOT NULL,
    "bucket" TIMESTAMP(3) NOT NULL,
    "feature" TEXT NOT NULL,
    "apiKeyId" UUID NOT NULL,
    "model" TEXT NOT NULL,
    "mode" "KeyMode" NOT NULL,
    "unitType" TEXT NOT NULL,
    "calls" BIGINT NOT NULL,
    "units" BIGINT NOT NULL,

    CONSTRAINT "UsageRollup_pkey" PRIMARY KEY ("orgId","bucket","feature","apiKeyId","model","mode")
);

-- CreateTable
CREATE TABLE "PlanFeaturePrice" (
    "planId" UUID NOT NULL,
    "feature" TEXT NOT NULL,
    "unitPrice" TEXT NOT NULL,

    CONSTRAINT "PlanFeaturePrice_pkey" PRIMARY KEY ("planId","feature")
);

-- CreateTable
CREATE TABLE "OrgFeaturePrice" (
    "orgId" UUID NOT NULL,
    "feature" TEXT NOT NULL,
    "unitPrice" TEXT NOT NULL,

    CONSTRAINT "OrgFeaturePrice_pkey" PRIMARY KEY ("orgId","feature")
);

-- CreateTable
CREATE TABLE "OrgPlanChange" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "fromPlanId" UUID NOT NULL,
    "toPlanId" UUID NOT NULL,
    "effectiveAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OrgPlanChange_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UsageThresholdCrossing" (
    "orgId" UUID NOT NULL,
    "period" TEXT NOT NULL,
    "percent" INTEGER NOT NULL,
    "units" BIGINT NOT NULL,
    "includedUnits" BIGINT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UsageThresholdCrossing_pkey" PRIMARY KEY ("orgId","period","percent")
);

-- CreateIndex
CREATE INDEX "OrgPlanChange_orgId_effectiveAt_idx" ON "OrgPlanChange"("orgId", "effectiveAt");

-- CreateIndex
CREATE INDEX "UsageEvent_occurredAt_idx" ON "UsageEvent"("occurredAt");

-- AddForeignKey
ALTER TABLE "PlanFeaturePrice" ADD CONSTRAINT "PlanFeaturePrice_planId_fkey" FOREIGN KEY ("planId") REFERENCES "Plan"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Prices move from micro-USD integers to decimal strings in minor units (cents): 1 cent = 10,000 micro-USD.
UPDATE "Plan" SET "unitPrice" = trim(trailing '.' FROM trim(trailing '0' FROM to_char("unitPriceMicros"::numeric / 10000, 'FM999999990.0000'))) WHERE "unitPriceMicros" <> 0;

-- Rollups of the usage recorded before they existed (15-minute UTC buckets), so rollups = raw events from the start.
INSERT INTO "UsageRollup" ("orgId", "bucket", "feature", "apiKeyId", "model", "mode", "unitType", "calls", "units")
SELECT "orgId", date_trunc('hour', "occurredAt") + floor(extract(minute FROM "occurredAt") / 15) * interval '15 minutes', "feature", "apiKeyId", "model", "mode", min("unitType"), count(*), sum("units")
FROM "UsageEvent"
GROUP BY 1, 2, 3, 4, 5, 6;
