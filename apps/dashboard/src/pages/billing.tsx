import { api } from '../api/client.js';
import type { BillingAccount } from '../api/types.js';
import { formatDate, formatMoney, formatNumber, formatUnitPrice } from '../lib/format.js';
import { Async, Card, ErrorBox, NotAllowed, StatusBadge, TableBox } from '../ui/components.js';
import { useAction, useResource } from '../ui/hooks.js';
import { useSession } from '../ui/session.js';

/** The plans a tenant can move to themselves (enterprise is arranged with sales). */
const SELF_SERVE_PLANS = [
  { key: 'free', name: 'Free' },
  { key: 'pro', name: 'Pro' },
];

const planKey = (p: BillingAccount['plan']): string => (typeof p === 'string' ? p : p.key);
const planName = (p: BillingAccount['plan']): string => (typeof p === 'string' ? p : p.name);

/** Loads nothing the role may not read: the page says so instead. */
export function BillingPage() {
  const { can } = useSession();
  return can('billing:read') ? <BillingPageBody /> : <NotAllowed what="billing" />;
}

function BillingPageBody() {
  const { org, can } = useSession();
  const account = useResource(() => api.billing(org.slug), [org.slug]);
  const upcoming = useResource(() => api.upcomingInvoice(org.slug), [org.slug]);
  const invoices = useResource(() => api.invoices(org.slug), [org.slug]);
  return (
    <>
      <Async res={account} what="the billing account">
        {(a) => <Plan account={a} writable={can('billing:write')} onChanged={() => (account.reload(), upcoming.reload())} />}
      </Async>
      <section className="panel" aria-label="Upcoming invoice">
        <h2>Upcoming invoice</h2>
        <Async res={upcoming} what="the upcoming invoice">
          {(inv) => (
            <>
              <p className="muted">
                {inv.plan.name} plan · {formatDate(inv.period.start)} – {formatDate(inv.period.end)}
              </p>
              <TableBox label="Invoice lines">
                <thead>
                  <tr>
                    <th>Feature</th>
                    <th className="num">Units</th>
                    <th className="num">Included</th>
                    <th className="num">Billable</th>
                    <th className="num">Unit price</th>
                    <th className="num">Amount</th>
                  </tr>
                </thead>
                <tbody>
                  {inv.lines.length === 0 && (
                    <tr>
                      <td colSpan={6} className="empty">
                        No usage in this period yet.
                      </td>
                    </tr>
                  )}
                  {inv.lines.map((l) => (
                    <tr key={`${l.feature}-${l.unit_type}`}>
                      <td>
                        {l.feature} <span className="muted small">({l.unit_type})</span>
                      </td>
                      <td className="num">{formatNumber(l.units)}</td>
                      <td className="num">{formatNumber(l.included)}</td>
                      <td className="num">{formatNumber(l.billable)}</td>
                      <td className="num">{formatUnitPrice(l.unit_price, inv.currency)}</td>
                      <td className="num">{formatMoney(l.amount, inv.currency)}</td>
                    </tr>
                  ))}
                </tbody>
                <tfoot>
                  <tr>
                    <th colSpan={5}>Subtotal</th>
                    <td className="num">{formatMoney(inv.subtotal, inv.currency)}</td>
                  </tr>
                  <tr>
                    <th colSpan={5}>Total</th>
                    <td className="num">
                      <strong>{formatMoney(inv.total, inv.currency)}</strong>
                    </td>
                  </tr>
                </tfoot>
              </TableBox>
            </>
          )}
        </Async>
      </section>
      <section className="panel" aria-label="Past invoices">
        <h2>Past invoices</h2>
        <Async res={invoices} what="past invoices" isEmpty={(l) => l.data.length === 0} empty="No invoices yet.">
          {(l) => (
            <TableBox label="Past invoices">
              <thead>
                <tr>
                  <th>Invoice</th>
                  <th>Period</th>
                  <th>Status</th>
                  <th className="num">Total</th>
                  <th>Link</th>
                </tr>
              </thead>
              <tbody>
                {l.data.map((i) => (
                  <tr key={i.id}>
                    <td>{i.number ?? i.id}</td>
                    <td>
                      {formatDate(i.period_start ?? i.created_at)} – {formatDate(i.period_end)}
                    </td>
                    <td>{i.status && <StatusBadge status={i.status} />}</td>
                    <td className="num">{i.total !== undefined && i.currency ? formatMoney(i.total, i.currency) : '—'}</td>
                    <td>
                      {i.hosted_invoice_url ? (
                        <a href={i.hosted_invoice_url} rel="noopener noreferrer" target="_blank">
                          View
                        </a>
                      ) : (
                        '—'
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </TableBox>
          )}
        </Async>
      </section>
    </>
  );
}

/**
 * The plan and its actions: with Stripe configured (mode "stripe") an upgrade goes through
 * Stripe Checkout and "Manage billing" opens the Customer Portal; in ledger mode the plan is
 * changed directly (PUT /plan). Shown only to roles with billing:write.
 */
function Plan({ account, writable, onChanged }: { account: BillingAccount; writable: boolean; onChanged: () => void }) {
  const { org } = useSession();
  const stripe = account.mode === 'stripe';
  const go = useAction(async (plan: string) => {
    if (stripe) {
      const { url } = await api.checkout(org.slug, plan);
      window.location.assign(url);
    } else {
      await api.changePlan(org.slug, plan);
      onChanged();
    }
  });
  const portal = useAction(async () => {
    const { url } = await api.portal(org.slug);
    window.location.assign(url);
  });
  const current = planKey(account.plan);
  return (
    <section className="cards" aria-label="Plan">
      <Card title="Plan" testId="card-plan">
        <p className="big">{planName(account.plan)}</p>
        <p>
          <StatusBadge status={account.status} />
          {account.grace_until && <span className="muted small"> until {formatDate(account.grace_until)}</span>}
        </p>
        <p className="muted small">{stripe ? 'Billed through Stripe.' : 'Billed from the usage ledger (Stripe not configured).'}</p>
      </Card>
      {writable && (
        <Card title="Change plan">
          {SELF_SERVE_PLANS.filter((p) => p.key !== current).map((p) => (
            <button key={p.key} type="button" disabled={go.pending} onClick={() => void go.run(p.key)}>
              {stripe ? `Upgrade to ${p.name} (Checkout)` : `Switch to ${p.name}`}
            </button>
          ))}
          {stripe && (
            <button type="button" className="secondary" disabled={portal.pending} onClick={() => void portal.run()}>
              Manage billing (Customer Portal)
            </button>
          )}
          {(go.error ?? portal.error) && <ErrorBox error={(go.error ?? portal.error)!} />}
        </Card>
      )}
    </section>
  );
}
