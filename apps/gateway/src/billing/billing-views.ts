import { z } from 'zod';
import { VIEWS } from '../openapi/views.js';

/** The answers of the billing routes, as components of the OpenAPI document (registered in VIEWS on import). */
const view = <S extends z.ZodType>(name: string, schema: S): S => {
  VIEWS.add(schema, { id: name });
  return schema;
};

view(
  'Billing',
  z.object({
    object: z.literal('billing'),
    mode: z.enum(['ledger', 'stripe']),
    status: z.enum(['active', 'past_due', 'suspended']),
    grace_until: z.iso.datetime().nullable().describe('past_due: when the organization is suspended unless paid'),
    plan: z.object({ key: z.string(), name: z.string() }),
    subscription: z.object({ id: z.string(), status: z.string().nullable() }).nullable(),
  }),
);
view('BillingUrl', z.object({ url: z.string().describe('Where to send the user (Stripe-hosted)') }));
const Invoice = view(
  'Invoice',
  z.object({
    id: z.string(),
    object: z.literal('invoice'),
    number: z.string().nullable(),
    status: z.string().nullable(),
    amount_due: z.number().int().describe('Minor units'),
    amount_paid: z.number().int().describe('Minor units'),
    currency: z.string(),
    hosted_invoice_url: z.string().nullable(),
    created: z.iso.datetime(),
  }),
);
view('InvoiceList', z.object({ object: z.literal('list'), data: z.array(Invoice), has_more: z.boolean(), next_cursor: z.string().nullable() }));
