import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '#platform/identity';
import { ROLES } from '#platform/tenancy';

export { parseBody } from '#infra/errors';

/** Lower-cased and trimmed before validation, so " A@B.io " and "a@b.io" are one account. */
export const emailField = z
  .string()
  .max(254)
  .transform((s) => s.trim().toLowerCase())
  .pipe(z.email({ message: 'must be an email address' }));

export const passwordField = z.string().min(PASSWORD_MIN_LENGTH, `at least ${PASSWORD_MIN_LENGTH} characters`).max(PASSWORD_MAX_LENGTH, `at most ${PASSWORD_MAX_LENGTH} characters`);

/** A display name: trimmed, 1-100 characters, no control characters. */
export const nameField = z
  .string()
  .transform((s) => s.trim())
  .pipe(
    z
      .string()
      .min(1, 'must not be empty')
      .max(100)
      .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'),
  );

/** Organization slugs: lower-case letters, digits and inner hyphens, 3-63 characters, never uuid-shaped. */
export const slugField = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/, 'lower-case letters, digits and inner hyphens, 3-63 characters')
  .refine((s) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s), 'must not look like an id');

export const roleField = z.enum(ROLES);

export const signupBody = z.strictObject({
  email: emailField,
  password: passwordField,
  name: nameField.optional(),
  organization_name: nameField.optional(),
});

export const loginBody = z.strictObject({
  // Login does not check the shape of the email beyond a length: a malformed one simply fails.
  email: z
    .string()
    .min(1)
    .max(254)
    .transform((s) => s.trim().toLowerCase()),
  password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
});

export const createOrgBody = z.strictObject({ name: nameField, slug: slugField.optional() });
export const updateOrgBody = z.strictObject({ name: nameField });
export const updateMemberBody = z.strictObject({ role: roleField });

export const MAX_INVITATION_SECONDS = 30 * 24 * 3600;
export const DEFAULT_INVITATION_SECONDS = 7 * 24 * 3600;

export const createInvitationBody = z.strictObject({
  email: emailField,
  role: roleField,
  expires_in_seconds: z.number().int().min(60).max(MAX_INVITATION_SECONDS).optional(),
});

export const acceptInvitationBody = z.strictObject({
  token: z.string().min(1).max(200),
  password: passwordField.optional(),
  name: nameField.optional(),
});

/** Derives a slug from a name: "Ada's Lab!" → "ada-s-lab". */
export function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  return base.length >= 3 ? base : `org-${base}`.replace(/-+$/g, '');
}
