-- Idempotency-Key moves out of Prediction into its own table (every creating POST, per organization and mode, with expiry)
DROP INDEX "Prediction_orgId_idempotencyKey_key";
ALTER TABLE "Prediction" DROP COLUMN "idempotencyKey";

-- Cancel-After
ALTER TABLE "Prediction" ADD COLUMN     "cancelAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "IdempotentRequest" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "requestHash" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "token" UUID NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "lockedAt" TIMESTAMP(3) NOT NULL,
    "status" INTEGER,
    "response" BYTEA,

    CONSTRAINT "IdempotentRequest_pkey" PRIMARY KEY ("scope","key")
);

-- CreateIndex
CREATE INDEX "IdempotentRequest_createdAt_idx" ON "IdempotentRequest"("createdAt");
