-- DropIndex
DROP INDEX "Prediction_orgId_id_idx";

-- CreateTable
CREATE TABLE "PredictionInput" (
    "predictionId" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "input" JSONB NOT NULL,

    CONSTRAINT "PredictionInput_pkey" PRIMARY KEY ("predictionId")
);

-- Inputs move to their own table (jobs carry ids; retention deletes them, the record stays).
INSERT INTO "PredictionInput" ("predictionId", "orgId", "input") SELECT "id", "orgId", "input" FROM "Prediction";

-- AlterTable (hand-edited: existing rows are kept; an unfinished one gets a deadline of now,
-- so the recovery loop fails it with deadline_exceeded rather than guessing its pool)
ALTER TABLE "Prediction" DROP COLUMN "input",
ADD COLUMN     "deadlineAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN     "pool" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "priority" INTEGER NOT NULL DEFAULT 10,
ADD COLUMN     "purgedAt" TIMESTAMP(3),
ADD COLUMN     "spec" JSONB NOT NULL DEFAULT '{"kind":"feature"}';
ALTER TABLE "Prediction" ALTER COLUMN "deadlineAt" DROP DEFAULT, ALTER COLUMN "pool" DROP DEFAULT, ALTER COLUMN "spec" DROP DEFAULT;

-- CreateTable
CREATE TABLE "PredictionEvent" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "orgId" UUID NOT NULL,
    "predictionId" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PredictionEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OutboxConsumer" (
    "name" TEXT NOT NULL,
    "seq" BIGINT NOT NULL DEFAULT 0,
    "leaseOwner" TEXT,
    "leaseUntil" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "OutboxConsumer_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE INDEX "PredictionEvent_createdAt_idx" ON "PredictionEvent"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "PredictionEvent_seq_key" ON "PredictionEvent"("seq");

-- CreateIndex
CREATE INDEX "Prediction_orgId_mode_id_idx" ON "Prediction"("orgId", "mode", "id");

-- CreateIndex
CREATE INDEX "Prediction_status_createdAt_idx" ON "Prediction"("status", "createdAt");

-- CreateIndex
CREATE INDEX "Prediction_purgedAt_completedAt_idx" ON "Prediction"("purgedAt", "completedAt");

-- AddForeignKey
ALTER TABLE "PredictionInput" ADD CONSTRAINT "PredictionInput_predictionId_fkey" FOREIGN KEY ("predictionId") REFERENCES "Prediction"("id") ON DELETE CASCADE ON UPDATE CASCADE;
