import { useState } from 'react';
import { api } from '../api/client.js';
import type { Granularity, KeyMode, UpcomingInvoice } from '../api/types.js';
import { burnDown } from '../lib/burn-down.js';
import { formatDate, formatMoney, formatMs, formatNumber, formatPercent, viewerTimeZone } from '../lib/format.js';
import { defaultRange, monthStart, pivotUsage } from '../lib/usage.js';
import { Async, Card, Empty, NotAllowed } from '../ui/components.js';
import { BurnDownChart, UsageBars } from '../ui/charts.js';
import { useResource } from '../ui/hooks.js';
import { useSession } from '../ui/session.js';

export function OverviewPage() {
  const { can } = useSession();
  const [mode, setMode] = useState<KeyMode>('live');
  if (!can('usage:read')) return <NotAllowed what="usage" />;
  return (
    <>
      <div className="toolbar" role="group" aria-label="Traffic mode">
        {(['live', 'test'] as const).map((m) => (
          <button key={m} type="button" className={mode === m ? '' : 'secondary'} aria-pressed={mode === m} onClick={() => setMode(m)}>
            {m === 'live' ? 'Live traffic' : 'Test traffic'}
          </button>
        ))}
      </div>
      <PeriodCards mode={mode} />
      <Traffic mode={mode} />
      <UsageOverTime mode={mode} />
    </>
  );
}

/** Calls, units and cost of the current period: the upcoming invoice (cost, units) and the usage totals (calls). */
function PeriodCards({ mode }: { mode: KeyMode }) {
  const { org, can } = useSession();
  const tz = viewerTimeZone();
  const usage = useResource(() => api.usage(org.slug, { from: monthStart().toISOString(), to: new Date().toISOString(), granularity: 'month', time_zone: tz, mode }), [org.slug, mode]);
  const upcoming = useResource<UpcomingInvoice | null>(() => (can('billing:read') && mode === 'live' ? api.upcomingInvoice(org.slug) : Promise.resolve(null)), [org.slug, mode]);
  return (
    <section aria-label="This period" className="cards">
      <Card title="Calls this month" testId="card-calls">
        <Async res={usage} what="usage">
          {(u) => <p className="big">{formatNumber(u.totals.calls)}</p>}
        </Async>
      </Card>
      <Card title="Units this month" testId="card-units">
        <Async res={usage} what="usage">
          {(u) => <p className="big">{formatNumber(u.totals.units)}</p>}
        </Async>
      </Card>
      <Card title={mode === 'live' ? 'Cost this period' : 'Cost (test: never billed)'} testId="card-cost">
        {mode === 'test' ? (
          <p className="big">{formatMoney(0, 'usd')}</p>
        ) : !can('billing:read') ? (
          <p className="muted">Your role does not include billing.</p>
        ) : (
          <Async res={upcoming} what="the upcoming invoice">
            {(inv) =>
              inv && (
                <>
                  <p className="big">{formatMoney(inv.total, inv.currency)}</p>
                  <p className="muted small">
                    {inv.plan.name} · {formatDate(inv.period.start)} – {formatDate(inv.period.end)}
                  </p>
                </>
              )
            }
          </Async>
        )}
      </Card>
    </section>
  );
}

function Traffic({ mode }: { mode: KeyMode }) {
  const { org } = useSession();
  const stats = useResource(() => api.stats(org.slug, { mode, window_hours: 24 }), [org.slug, mode]);
  return (
    <Async res={stats} what="traffic figures">
      {(s) => {
        const b = burnDown({ included: s.quota.included_units, used: s.quota.used_units, start: new Date(s.quota.period.start), end: new Date(s.quota.period.end), now: new Date() });
        const headroomRatio = s.rate_limit.per_minute > 0 ? s.rate_limit.headroom_per_minute / s.rate_limit.per_minute : 0;
        return (
          <>
            <section aria-label="Last 24 hours" className="cards">
              <Card title="Predictions (24 h)" testId="card-predictions">
                <p className="big" data-testid="predictions-total">
                  {formatNumber(s.predictions.total)}
                </p>
                <p className="muted small">
                  {formatNumber(s.predictions.succeeded)} succeeded · {formatNumber(s.predictions.failed)} failed · {formatNumber(s.predictions.pending)} running
                </p>
              </Card>
              <Card title="Error rate (24 h)" testId="card-error-rate">
                <p className="big">{formatPercent(s.predictions.error_rate)}</p>
                <p className="muted small">failed of finished predictions</p>
              </Card>
              <Card title="Latency (24 h)" testId="card-latency">
                <p className="big">
                  p50 {formatMs(s.latency_ms.p50)} · p95 {formatMs(s.latency_ms.p95)}
                </p>
                <p className="muted small">submission to result, succeeded predictions</p>
              </Card>
              <Card title="Rate-limit headroom" testId="card-headroom">
                <p className="big">
                  {formatNumber(s.rate_limit.headroom_per_minute)} / {formatNumber(s.rate_limit.per_minute)} per min
                </p>
                <meter min={0} max={1} low={0.2} high={0.5} optimum={1} value={headroomRatio} aria-label="Rate-limit headroom" />
                <p className="muted small">
                  busiest minute of the last hour: {formatNumber(s.rate_limit.peak_per_minute)} · {formatNumber(s.rate_limit.in_flight)} of {formatNumber(s.rate_limit.max_concurrent)} concurrent
                </p>
              </Card>
            </section>
            <section aria-label="Quota" className="panel" data-testid="quota">
              <h2>Quota this month</h2>
              {s.quota.included_units === null ? (
                <p>Unlimited units on this plan ({formatNumber(s.quota.used_units)} used so far).</p>
              ) : (
                <>
                  <p>
                    {formatNumber(s.quota.used_units)} of {formatNumber(s.quota.included_units)} units used ({formatPercent(b.usedRatio)}), {formatNumber(Math.round(b.perDay))} a day at the current pace.{' '}
                    <strong data-testid="run-out">
                      {b.exhausted
                        ? s.quota.overage === 'block'
                          ? 'The quota is used up: predictions are refused until the next period.'
                          : 'The quota is used up: further units are billed as overage.'
                        : b.runOutAt
                          ? `At this pace it runs out on ${formatDate(b.runOutAt.toISOString())}.`
                          : `At this pace it lasts the month (resets ${formatDate(s.quota.period.end)}).`}
                    </strong>
                  </p>
                  <BurnDownChart series={b.series} included={s.quota.included_units} />
                </>
              )}
            </section>
          </>
        );
      }}
    </Async>
  );
}

function UsageOverTime({ mode }: { mode: KeyMode }) {
  const { org } = useSession();
  const [granularity, setGranularity] = useState<Granularity>('day');
  const tz = viewerTimeZone();
  const usage = useResource(() => {
    const { from, to } = defaultRange(granularity);
    return api.usage(org.slug, { from: from.toISOString(), to: to.toISOString(), granularity, group_by: ['feature'], time_zone: tz, mode });
  }, [org.slug, granularity, mode]);
  return (
    <section className="panel" aria-label="Usage over time">
      <h2>Usage over time by feature</h2>
      <div className="toolbar" role="group" aria-label="Granularity">
        {(['hour', 'day', 'month'] as const).map((g) => (
          <button key={g} type="button" className={g === granularity ? '' : 'secondary'} aria-pressed={g === granularity} onClick={() => setGranularity(g)}>
            {g === 'hour' ? 'Hourly' : g === 'day' ? 'Daily' : 'Monthly'}
          </button>
        ))}
        <span className="muted small">times in {tz}</span>
      </div>
      <Async res={usage} what="usage over time" isEmpty={(u) => u.data.length === 0} empty={<Empty>No calls in this range yet.</Empty>}>
        {(u) => {
          const { points, series } = pivotUsage(u.data, 'feature', 'calls');
          return <UsageBars points={points} series={series} granularity={u.granularity} label={`Calls per ${u.granularity} by feature`} />;
        }}
      </Async>
    </section>
  );
}
