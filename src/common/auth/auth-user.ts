export const USER_ROLES = ['traveler', 'counterparty', 'operator'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** The caller, as the authentication guard resolved it for this request. */
export interface AuthUser {
  id: string;
  role: UserRole;
  tier: number;
  suspended: boolean;
  via: 'jwt' | 'api_key';
}
