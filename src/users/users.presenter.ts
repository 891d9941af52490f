import { toReputation } from './reputation';
import type { ApiKeyEntity } from './api-key.entity';
import type { UserEntity } from './user.entity';
import type { ApiKeyView, PublicProfileView, UserView } from './dto/users.dto';

export function presentUser(user: UserEntity): UserView {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: user.role,
    tier: user.tier,
    suspended: user.suspendedAt !== null,
    wechatWalletSet: user.wechatIdIndex !== null,
    payoutAccount: user.paypalEmailIndex !== null ? { method: 'paypal' } : null,
    reputation: toReputation(user.reputation),
    createdAt: user.createdAt.toISOString(),
  };
}

export function presentPublicProfile(user: UserEntity): PublicProfileView {
  return { id: user.id, displayName: user.displayName, role: user.role, reputation: toReputation(user.reputation) };
}

export function presentApiKey(key: ApiKeyEntity): ApiKeyView {
  return {
    id: key.id,
    prefix: key.prefix,
    name: key.name,
    scope: key.scope,
    expiresAt: key.expiresAt?.toISOString() ?? null,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

/** What operators see of a user: the account, its reputation, and its dispute record. */
export function presentAdminUser(user: UserEntity): UserView & { disputes: { won: number; lost: number } } {
  return { ...presentUser(user), disputes: { won: user.reputation?.disputesWon ?? 0, lost: user.reputation?.disputesLost ?? 0 } };
}
