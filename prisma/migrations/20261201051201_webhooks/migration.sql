-- CreateTable
CREATE TABLE "WebhookSecret" (
    "orgId" UUID NOT NULL,
    "secret" TEXT NOT NULL,
    "previous" TEXT,
    "previousUntil" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "rotatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WebhookSecret_pkey" PRIMARY KEY ("orgId")
);

-- CreateTable
CREATE TABLE "WebhookEndpoint" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "eventTypes" TEXT[],
    "description" TEXT NOT NULL DEFAULT '',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "disabledReason" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),

    CONSTRAINT "WebhookEndpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookMessage" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "endpointId" UUID,
    "url" TEXT NOT NULL,
    "eventType" TEXT NOT NULL,
    "dedupeKey" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "totalAttempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3),
    "lockedUntil" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deliveredAt" TIMESTAMP(3),

    CONSTRAINT "WebhookMessage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookAttempt" (
    "id" UUID NOT NULL,
    "messageId" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "endpointId" UUID,
    "url" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "trigger" TEXT NOT NULL,
    "status" INTEGER,
    "response" TEXT NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WebhookAttempt_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "WebhookEndpoint_orgId_id_idx" ON "WebhookEndpoint"("orgId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookMessage_dedupeKey_key" ON "WebhookMessage"("dedupeKey");

-- CreateIndex
CREATE INDEX "WebhookMessage_status_nextAttemptAt_idx" ON "WebhookMessage"("status", "nextAttemptAt");

-- CreateIndex
CREATE INDEX "WebhookMessage_orgId_endpointId_id_idx" ON "WebhookMessage"("orgId", "endpointId", "id");

-- CreateIndex
CREATE INDEX "WebhookAttempt_messageId_id_idx" ON "WebhookAttempt"("messageId", "id");

-- CreateIndex
CREATE INDEX "WebhookAttempt_orgId_endpointId_id_idx" ON "WebhookAttempt"("orgId", "endpointId", "id");

-- The "webhooks" lifecycle consumer starts at the newest event: predictions made before
-- webhooks were delivered do not send theirs now (their `webhook` was stored, never promised).
INSERT INTO "OutboxConsumer" ("name", "seq", "updatedAt")
SELECT 'webhooks', COALESCE(MAX("seq"), 0), CURRENT_TIMESTAMP FROM "PredictionEvent"
ON CONFLICT ("name") DO NOTHING;
