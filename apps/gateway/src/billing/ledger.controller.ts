import { Body, Controller, Get, Put, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { parseBody } from '#infra/errors';
import { CurrentActor, OrgGuard, RequirePermission, type Actor } from '#platform/tenancy';
import { parseUsageQuery, UsageService, usageQuery, type UpcomingInvoice, type UsageReport } from '#platform/usage';
import { ApiContract } from '../openapi/contract.js';
import { changePlanBody, LedgerBillingService } from './ledger.service.js';

/** Usage, the upcoming invoice and plan changes, computed from the ledger (README "Usage and billing"). */
@ApiTags('billing')
@ApiBearerAuth()
@ApiCookieAuth('stratum_session')
@ApiParam({ name: 'org', description: 'Organization id or slug' })
@UseGuards(OrgGuard)
@Controller('v1/orgs/:org')
export class LedgerBillingController {
  constructor(
    private readonly usageService: UsageService,
    private readonly billing: LedgerBillingService,
  ) {}

  @Get('usage')
  @RequirePermission('usage:read')
  @ApiOperation({
    summary: 'Usage over a time range, from the rollups',
    description: 'Calls, units and their amount at list price per hour, day or month in `time_zone`, optionally grouped by feature, key, model and mode. Summed, the rows equal the recorded usage events.',
  })
  @ApiContract({ query: usageQuery, responses: { 200: { description: 'Usage rows and totals', schema: 'Usage' } } })
  usage(@CurrentActor() actor: Actor, @Query() query: Record<string, unknown>): Promise<UsageReport> {
    return this.usageService.usage(actor.orgId, parseUsageQuery(query));
  }

  @Get('billing/upcoming')
  @RequirePermission('billing:read')
  @ApiOperation({ summary: "The current period's invoice so far", description: 'Line items per feature (and per plan stretch after a plan change): units, included, billable, unit price, amount; the total. Computed from the ledger (live usage).' })
  @ApiContract({ responses: { 200: { description: 'The upcoming invoice', schema: 'UpcomingInvoice' } } })
  upcoming(@CurrentActor() actor: Actor): Promise<UpcomingInvoice> {
    return this.usageService.upcoming(actor.orgId);
  }

  @Put('plan')
  @RequirePermission('billing:manage')
  @ApiOperation({
    summary: "Change the organization's plan",
    description: "Owners and admins. Limits and priority apply on every gateway within a second; prices and included units from the next quarter hour (prorated by time, README \"Usage and billing\"). Recorded usage is kept and priced by the plan in force when it happened. Audited; sends `plan.changed`.",
  })
  @ApiContract({ body: { schema: changePlanBody, name: 'ChangePlan' }, responses: { 200: { description: "The organization's plan", schema: 'OrganizationPlan' } } })
  changePlan(@CurrentActor() actor: Actor, @Body() body: unknown) {
    return this.billing.changePlan(actor, parseBody(changePlanBody, body).plan);
  }
}
