import { createHmac, randomBytes } from 'node:crypto';

const TOKEN = /^inv_[A-Za-z0-9_-]{43}$/;

/** A one-time invitation token: "inv_" + 256 random bits (base64url). Shown once, never stored. */
export function generateInvitationToken(): string {
  return `inv_${randomBytes(32).toString('base64url')}`;
}

export function isInvitationToken(candidate: string): boolean {
  return TOKEN.test(candidate);
}

/** The stored form: hex HMAC-SHA-256 with the server-side pepper (API_KEY_PEPPER). */
export function digestInvitationToken(token: string, pepper: string): string {
  return createHmac('sha256', pepper).update(token).digest('hex');
}
