import { Module } from '@nestjs/common';
import { AuditLogRepository } from './audit-log.repository.js';

/** The audit-log reader. Needs the global DbModule. */
@Module({ providers: [AuditLogRepository], exports: [AuditLogRepository] })
export class AuditModule {}
