// Charts with Recharts (README "Dashboard": well kept, React components, SVG output with
// accessibility support): stacked bars of usage by series, and the quota burn-down lines.
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Granularity } from '../api/types.js';
import { formatBucket, formatDate, formatNumber } from '../lib/format.js';
import type { ChartPoint } from '../lib/usage.js';

const PALETTE = ['#2563eb', '#d97706', '#059669', '#7c3aed', '#dc2626', '#0891b2', '#65a30d', '#db2777'];

export function UsageBars({ points, series, granularity, label, format = (n) => formatNumber(n) }: { points: ChartPoint[]; series: string[]; granularity: Granularity; label: string; format?: (n: number) => string }) {
  return (
    <figure className="chart" data-testid="usage-chart" aria-label={label}>
      <ResponsiveContainer width="100%" height={260}>
        <BarChart data={points} margin={{ top: 8, right: 8, bottom: 8, left: 0 }} accessibilityLayer>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="start" tickFormatter={(v: string) => formatBucket(v, granularity)} minTickGap={16} fontSize={12} />
          <YAxis tickFormatter={(v: number) => format(v)} width={64} fontSize={12} allowDecimals={false} />
          <Tooltip labelFormatter={(v) => formatBucket(typeof v === 'string' ? v : '', granularity)} formatter={(v) => format(Number(v))} />
          <Legend />
          {series.map((s, i) => (
            <Bar key={s} dataKey={s} stackId="usage" fill={PALETTE[i % PALETTE.length]} isAnimationActive={false} />
          ))}
        </BarChart>
      </ResponsiveContainer>
      <figcaption className="sr-only">{label}</figcaption>
    </figure>
  );
}

export function BurnDownChart({ series, included }: { series: { t: number; actual?: number; projected?: number }[]; included: number }) {
  return (
    <figure className="chart" data-testid="burn-down-chart" aria-label="Quota remaining over the period, actual and projected">
      <ResponsiveContainer width="100%" height={200}>
        <AreaChart data={series} margin={{ top: 8, right: 8, bottom: 8, left: 0 }} accessibilityLayer>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="t" type="number" scale="time" domain={['dataMin', 'dataMax']} tickFormatter={(v: number) => formatDate(new Date(v).toISOString())} fontSize={12} minTickGap={24} />
          <YAxis domain={[0, included]} tickFormatter={(v: number) => formatNumber(v, { notation: 'compact' })} width={56} fontSize={12} />
          <Tooltip labelFormatter={(v) => formatDate(new Date(Number(v)).toISOString())} formatter={(v) => formatNumber(Number(v), { maximumFractionDigits: 0 })} />
          <Area type="linear" dataKey="actual" name="remaining" stroke="#2563eb" fill="#bfdbfe" isAnimationActive={false} connectNulls />
          <Area type="linear" dataKey="projected" name="projected at this pace" stroke="#d97706" strokeDasharray="5 4" fill="none" isAnimationActive={false} connectNulls />
        </AreaChart>
      </ResponsiveContainer>
    </figure>
  );
}
