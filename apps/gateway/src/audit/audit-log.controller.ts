import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { auditQuery, AuditLogRepository, parseAuditQuery, type AuditEntryView } from '#platform/audit';
import { ApiContract } from '../openapi/contract.js';
import { CurrentActor, OrgGuard, RequirePermission, type Actor } from '#platform/tenancy';

/** Read-only: the audit log has no write route; entries are written with the changes they record. */
@ApiTags('audit-log')
@ApiParam({ name: 'org', description: 'Organization id or slug' })
@UseGuards(OrgGuard)
@Controller('v1/orgs/:org/audit-log')
export class AuditLogController {
  constructor(private readonly audit: AuditLogRepository) {}

  @Get()
  @RequirePermission('audit:read')
  @ApiOperation({ summary: 'List audit-log entries, newest first (cursor pages)', description: 'Owners and admins (or an `admin` key). Every state-changing management action is recorded in the transaction of the change.' })
  @ApiContract({ query: auditQuery, responses: { 200: { description: 'A page of entries', schema: 'AuditEntryList' } } })
  async list(@CurrentActor() actor: Actor, @Query() query: Record<string, unknown>): Promise<{ object: 'list'; data: AuditEntryView[]; has_more: boolean; next_cursor: string | null }> {
    const { filter, page } = parseAuditQuery(query);
    return { object: 'list', ...(await this.audit.list(actor, filter, page)) };
  }
}
