export const USER_ROLES = ['traveler', 'counterparty', 'operator'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/**
 * What an API key may do; a key without one may do all its owner may (keys made before scopes existed).
 * `read`: GET and HEAD only. `trade`: every method, but not account management (see AccountManagement).
 */
export const API_KEY_SCOPES = ['read', 'trade'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** The caller, as the authentication guard resolved it for this request. */
export interface AuthUser {
  id: string;
  role: UserRole;
  tier: number;
  suspended: boolean;
  via: 'jwt' | 'api_key';
  /** The API key's scope, when the request came with a scoped key. */
  scope?: ApiKeyScope;
}
