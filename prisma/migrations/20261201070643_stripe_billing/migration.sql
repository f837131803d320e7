-- CreateEnum
CREATE TYPE "BillingStatus" AS ENUM ('active', 'past_due', 'suspended');

-- AlterTable
ALTER TABLE "Organization" ADD COLUMN     "billingStatus" "BillingStatus" NOT NULL DEFAULT 'active',
ADD COLUMN     "graceUntil" TIMESTAMP(3),
ADD COLUMN     "stripeSubscriptionId" TEXT,
ADD COLUMN     "stripeSubscriptionStatus" TEXT;

-- CreateTable
CREATE TABLE "StripeMeterOutbox" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "eventName" TEXT NOT NULL,
    "units" INTEGER NOT NULL,
    "occurredAt" TIMESTAMP(3) NOT NULL,
    "batchId" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastError" TEXT,
    "acknowledgedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StripeMeterOutbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StripeWebhookEvent" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processedAt" TIMESTAMP(3),

    CONSTRAINT "StripeWebhookEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "StripeMeterOutbox_acknowledgedAt_batchId_nextAttemptAt_idx" ON "StripeMeterOutbox"("acknowledgedAt", "batchId", "nextAttemptAt");

-- CreateIndex
CREATE INDEX "StripeMeterOutbox_batchId_idx" ON "StripeMeterOutbox"("batchId");
