// Stratum's database capability: the Prisma client (Postgres via @prisma/adapter-pg, one
// Postgres schema per deployment or per test file), its Nest module, the offline migration
// runner and UUIDv7 ids.
export { createPrismaClient, prismaAdapter, resolveTarget, assertSchemaName, type CreatePrismaClientOptions, type DatabaseTarget } from './client.js';
export { PrismaService, pingDatabase, type PingResult } from './prisma.service.js';
export { DbModule } from './db.module.js';
export {
  applyMigrations,
  migrationStatus,
  authorMigration,
  readMigrationList,
  repoRoot,
  MIGRATION_NAME,
  type ApplyMigrationsOptions,
  type ApplyMigrationsResult,
  type MigrationStatus,
  type MigrationPaths,
  type AuthorMigrationResult,
} from './migrations.js';
export { uuidv7, uuidv7Timestamp } from './uuid.js';
export { PrismaClient, Prisma, Role, KeyMode, PredictionStatus } from './generated/client.js';
export type { Plan, Organization, User, Membership, ApiKey, Model, ModelVersion, Feature, Prediction, UsageEvent } from './generated/client.js';
