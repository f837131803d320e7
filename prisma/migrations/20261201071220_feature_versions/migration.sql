-- AlterTable
ALTER TABLE "Feature" DROP COLUMN "unitType",
DROP COLUMN "units",
ADD COLUMN     "price" JSONB NOT NULL,
ADD COLUMN     "sha256" TEXT NOT NULL;
