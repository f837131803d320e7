-- Model names are unique per namespace: "platform" for the platform's models (orgId NULL),
-- else the owning orgId as text. The old unique (orgId, name) let duplicate platform names
-- in, because NULLs are distinct in a unique index.

-- DropIndex
DROP INDEX "Model_orgId_name_key";

-- AlterTable (backfill existing rows before the NOT NULL applies)
ALTER TABLE "Model" ADD COLUMN     "namespace" TEXT;
UPDATE "Model" SET "namespace" = COALESCE("orgId"::text, 'platform');
ALTER TABLE "Model" ALTER COLUMN "namespace" SET NOT NULL;

-- CreateIndex
CREATE INDEX "Model_orgId_idx" ON "Model"("orgId");

-- CreateIndex
CREATE UNIQUE INDEX "Model_namespace_name_key" ON "Model"("namespace", "name");
