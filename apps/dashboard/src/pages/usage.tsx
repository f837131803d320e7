import { useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import type { ApiKey, Granularity, KeyMode, Usage, UsageGroup, UsageQuery } from '../api/types.js';
import { toCsv } from '../lib/csv.js';
import { formatBucket, formatMoney, formatNumber, viewerTimeZone } from '../lib/format.js';
import { defaultRange, pivotUsage } from '../lib/usage.js';
import { Async, Empty, NotAllowed, TableBox } from '../ui/components.js';
import { UsageBars } from '../ui/charts.js';
import { useResource } from '../ui/hooks.js';
import { useSession } from '../ui/session.js';

/** A local date (yyyy-mm-dd, as <input type=date> gives) at the viewer's midnight. */
const localDay = (d: Date): string => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

interface Filters {
  from: string;
  to: string;
  granularity: Granularity;
  feature: string;
  key: string;
  model: string;
  mode: '' | KeyMode;
  groupBy: UsageGroup;
}

function initialFilters(): Filters {
  const { from, to } = defaultRange('day');
  return { from: localDay(from), to: localDay(to), granularity: 'day', feature: '', key: '', model: '', mode: '', groupBy: 'feature' };
}

const GROUP_FIELD: Record<UsageGroup, 'feature' | 'api_key_id' | 'model' | 'mode'> = { feature: 'feature', key: 'api_key_id', model: 'model', mode: 'mode' };

/** Loads nothing the role may not read: the page says so instead. */
export function UsagePage() {
  const { can } = useSession();
  return can('usage:read') ? <UsagePageBody /> : <NotAllowed what="usage" />;
}

function UsagePageBody() {
  const { org, can } = useSession();
  const [draft, setDraft] = useState<Filters>(initialFilters);
  const [applied, setApplied] = useState<Filters>(draft);
  const [metric, setMetric] = useState<'calls' | 'units' | 'amount'>('calls');
  const tz = viewerTimeZone();
  const keys = useResource<ApiKey[]>(() => (can('keys:read') ? api.keys(org.slug, { include_revoked: true, limit: 100 }).then((l) => l.data) : Promise.resolve([])), [org.slug]);
  const query = (f: Filters): UsageQuery => ({
    from: new Date(`${f.from}T00:00:00`).toISOString(),
    // The whole of the last day: up to the next local midnight.
    to: new Date(new Date(`${f.to}T00:00:00`).getTime() + 86_400_000).toISOString(),
    granularity: f.granularity,
    group_by: [f.groupBy],
    time_zone: tz,
    ...(f.feature ? { feature: f.feature } : {}),
    ...(f.key ? { key: f.key } : {}),
    ...(f.model ? { model: f.model } : {}),
    ...(f.mode ? { mode: f.mode } : {}),
  });
  const usage = useResource(() => api.usage(org.slug, query(applied)), [org.slug, JSON.stringify(applied)]);
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setApplied(draft);
  };
  const keyName = (id: string | undefined): string => {
    if (!id) return '';
    const k = keys.status === 'ready' ? keys.data.find((x) => x.id === id) : undefined;
    return k ? `${k.name} (${k.display_prefix}…)` : id;
  };
  return (
    <>
      <form className="panel filters" onSubmit={submit} aria-label="Usage filters">
        <div className="row">
          <label>
            From
            <input type="date" value={draft.from} onChange={set('from')} required />
          </label>
          <label>
            To
            <input type="date" value={draft.to} onChange={set('to')} required />
          </label>
          <label>
            Granularity
            <select value={draft.granularity} onChange={set('granularity')}>
              <option value="hour">Hour</option>
              <option value="day">Day</option>
              <option value="month">Month</option>
            </select>
          </label>
          <label>
            Group by
            <select value={draft.groupBy} onChange={set('groupBy')}>
              <option value="feature">Feature</option>
              <option value="key">API key</option>
              <option value="model">Model</option>
              <option value="mode">Mode</option>
            </select>
          </label>
        </div>
        <div className="row">
          <label>
            Feature
            <input value={draft.feature} onChange={set('feature')} placeholder="any" />
          </label>
          <label>
            API key
            <select value={draft.key} onChange={set('key')}>
              <option value="">any</option>
              {keys.status === 'ready' &&
                keys.data.map((k) => (
                  <option key={k.id} value={k.id}>
                    {k.name} ({k.mode})
                  </option>
                ))}
            </select>
          </label>
          <label>
            Model
            <input value={draft.model} onChange={set('model')} placeholder="any" />
          </label>
          <label>
            Mode
            <select value={draft.mode} onChange={set('mode')}>
              <option value="">live and test</option>
              <option value="live">live</option>
              <option value="test">test</option>
            </select>
          </label>
        </div>
        <button type="submit">Apply</button>
        <span className="muted small"> Times in {tz}.</span>
      </form>
      <Async res={usage} what="usage" isEmpty={(u) => u.data.length === 0} empty={<Empty>No usage matches these filters.</Empty>}>
        {(u) => <UsageResult usage={u} metric={metric} setMetric={setMetric} keyName={keyName} />}
      </Async>
    </>
  );
}

function UsageResult({ usage, metric, setMetric, keyName }: { usage: Usage; metric: 'calls' | 'units' | 'amount'; setMetric: (m: 'calls' | 'units' | 'amount') => void; keyName: (id: string | undefined) => string }) {
  const group = usage.group_by[0] ?? 'feature';
  const field = GROUP_FIELD[group];
  const { points, series } = pivotUsage(usage.data, field, metric);
  const label = (s: string) => (field === 'api_key_id' ? keyName(s) || s : s);
  const labelled = points.map((p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k === 'start' ? k : label(k), v]))) as typeof points;
  const fmt = metric === 'amount' ? (n: number) => formatMoney(n, usage.currency) : (n: number) => formatNumber(n);
  const exportCsv = () => {
    const csv = toCsv(
      ['start', 'end', 'feature', 'api_key_id', 'model', 'mode', 'calls', 'units', `amount_${usage.currency}_minor`],
      usage.data.map((r) => [r.start, r.end, r.feature, r.api_key_id, r.model, r.mode, r.calls, r.units, r.amount]),
    );
    const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `usage-${usage.from.slice(0, 10)}-${usage.to.slice(0, 10)}.csv`;
    a.click();
    URL.revokeObjectURL(url);
  };
  return (
    <section className="panel" aria-label="Usage result">
      <div className="toolbar" role="group" aria-label="Chart metric">
        {(['calls', 'units', 'amount'] as const).map((m) => (
          <button key={m} type="button" className={m === metric ? '' : 'secondary'} aria-pressed={m === metric} onClick={() => setMetric(m)}>
            {m === 'amount' ? 'Cost' : m[0]!.toUpperCase() + m.slice(1)}
          </button>
        ))}
        <button type="button" className="secondary" onClick={exportCsv}>
          Export CSV
        </button>
      </div>
      <UsageBars points={labelled} series={series.map(label)} granularity={usage.granularity} label={`${metric} per ${usage.granularity} by ${group}`} format={fmt} />
      <TableBox label="Usage rows">
        <thead>
          <tr>
            <th>Period</th>
            <th>{group === 'key' ? 'API key' : group[0]!.toUpperCase() + group.slice(1)}</th>
            <th className="num">Calls</th>
            <th className="num">Units</th>
            <th className="num">Cost (list price)</th>
          </tr>
        </thead>
        <tbody data-testid="usage-rows">
          {usage.data.map((r, i) => (
            <tr key={i}>
              <td>{formatBucket(r.start, usage.granularity)}</td>
              <td>{label(r[field] ?? 'all')}</td>
              <td className="num">{formatNumber(r.calls)}</td>
              <td className="num">{formatNumber(r.units)}</td>
              <td className="num">{formatMoney(r.amount, usage.currency)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th colSpan={2}>Total</th>
            <td className="num" data-testid="usage-total-calls">
              {formatNumber(usage.totals.calls)}
            </td>
            <td className="num">{formatNumber(usage.totals.units)}</td>
            <td className="num" data-testid="usage-total-amount">
              {formatMoney(usage.totals.amount, usage.currency)}
            </td>
          </tr>
        </tfoot>
      </TableBox>
    </section>
  );
}
