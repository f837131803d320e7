import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuditLogRepository, parseAuditQuery, type AuditEntryView } from '#platform/audit';
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
  @ApiQuery({ name: 'action', required: false, description: 'e.g. `api_key.create`, or `api_key` for every action on keys' })
  @ApiQuery({ name: 'actor_id', required: false, description: 'A user or API key id' })
  @ApiQuery({ name: 'target_id', required: false, description: 'The id of the object acted on' })
  @ApiQuery({ name: 'since', required: false, description: 'ISO 8601, inclusive' })
  @ApiQuery({ name: 'until', required: false, description: 'ISO 8601, exclusive' })
  @ApiQuery({ name: 'limit', required: false, description: '1-100, default 20' })
  @ApiQuery({ name: 'starting_after', required: false, description: 'next_cursor of the previous page' })
  @ApiResponse({ status: 200, description: 'A page of entries', schema: { $ref: '#/components/schemas/AuditEntryList' } })
  async list(@CurrentActor() actor: Actor, @Query() query: Record<string, unknown>): Promise<{ object: 'list'; data: AuditEntryView[]; has_more: boolean; next_cursor: string | null }> {
    const { filter, page } = parseAuditQuery(query);
    return { object: 'list', ...(await this.audit.list(actor, filter, page)) };
  }
}
