/**
 * The scopes an API key can hold: the one list. Tenancy's permission matrix says what each
 * grants, key management validates request bodies against it, the OpenAPI document lists it,
 * and the prediction guard requires `predict`.
 */
export const API_KEY_SCOPES = ['predict', 'usage:read', 'keys:write', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export function isScope(value: unknown): value is ApiKeyScope {
  return typeof value === 'string' && (API_KEY_SCOPES as readonly string[]).includes(value);
}
