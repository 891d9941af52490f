import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { EntityManager } from 'typeorm';
import type { AuthUser } from '../common/auth/auth-user';
import { DomainError } from '../common/errors';
import { MessageRetentionRepository } from '../chat/message-retention.repository';
import { DisputesRepository } from '../disputes/disputes.repository';
import { MarketRepository } from '../market/market.repository';
import { RatingsRepository } from '../ratings/ratings.repository';
import { WebhooksRepository } from '../notifications/webhooks/webhooks.repository';
import { HandleRetentionRepository } from '../trades/handle-retention.repository';
import { TERMINAL_STATES } from '../trades/trade.state-machine';
import { AccountEventsRepository } from '../users/account-events.repository';
import { AccountPrivacyRepository } from './account-privacy.repository';
import type { DeletedUserView } from './dto/account-privacy.dto';
import { PasswordHasher } from '../users/password-hasher';
import { PrincipalCache } from '../users/principal-cache';
import { SignInThrottle } from '../users/sign-in-throttle';
import { presentUser } from '../users/users.presenter';
import { UsersRepository } from '../users/users.repository';
import { Transactions } from '../database/transactions';

/** What a deleted account shows to everyone: its trades, ledger and reputation stay, its name does not. */
export const DELETED_DISPLAY_NAME = 'Deleted user';

/**
 * The email a deleted account keeps: unique (its id), lower case as the column requires, and not an email
 * address, so no registration can ever take it and the original address is free again at once.
 */
export function deletedEmailPlaceholder(userId: string): string {
  return `deleted:${userId}`;
}

const OPEN_OFFER_STATES = ['active', 'paused', 'exhausted'] as const;

/** A listing was posted between the listings' locks and the user's: take the locks again, in order. */
class ListingsMoved extends Error {}

const ATTEMPTS = 3;

/**
 * `DELETE /v1/me`: pseudonymizes the caller's account once nothing of theirs is live or owed (409 `live_trades`
 * otherwise), in one transaction that follows the lock order of an accept or a take: the user's open requests
 * and offers first, then the user's row. A racing accept or take of one of their listings either commits first
 * (and its trade, now live, refuses the deletion) or finds the listing closed; a trade of theirs can start only
 * under their row lock, so none starts while the deletion decides.
 *
 * The password is a sign-in: each attempt counts toward the same per-email throttle as `/v1/auth/login`, so a
 * stolen token cannot try passwords here past LOGIN_MAX_FAILURES (429, the right password included). Once deleted,
 * the handle snapshots of the account's ended trades are erased too: nothing of them is owed any more.
 */
@Injectable()
export class AccountDeletionService {
  constructor(
    private readonly transactions: Transactions,
    private readonly privacy: AccountPrivacyRepository,
    private readonly accountEvents: AccountEventsRepository,
    private readonly users: UsersRepository,
    private readonly market: MarketRepository,
    private readonly disputes: DisputesRepository,
    private readonly ratings: RatingsRepository,
    private readonly handles: HandleRetentionRepository,
    private readonly messages: MessageRetentionRepository,
    private readonly webhooks: WebhooksRepository,
    private readonly hasher: PasswordHasher,
    private readonly principals: PrincipalCache,
    private readonly signIn: SignInThrottle,
  ) {}

  async delete(caller: AuthUser, password: string): Promise<DeletedUserView> {
    // Hashing is slow: the password is checked, and the new unknowable one made, before any lock is taken.
    const verified = await this.verifiedPasswordHash(caller.id, password);
    const unknowable = await this.hasher.hash(randomBytes(32).toString('base64url'));
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.transactions.run((manager) => this.deleteIn(manager, caller.id, verified, unknowable));
        break;
      } catch (error) {
        if (!(error instanceof ListingsMoved) || attempt === ATTEMPTS) {
          if (error instanceof ListingsMoved) throw new DomainError('conflict', 'The account’s listings are changing; try again');
          throw error;
        }
      }
    }
    // The trigger on users tells every process at commit; this one forgets at once, before it answers.
    this.principals.forget(caller.id);
    const user = (await this.users.findWithReputation(caller.id))!;
    return { ...presentUser(user), deletedAt: user.updatedAt.toISOString() };
  }

  /** Checks the password as a sign-in does: counted (429 while the email is locked) before the hash is checked. */
  private async verifiedPasswordHash(userId: string, password: string): Promise<string> {
    const current = await this.privacy.credentialsOf(userId);
    if (current === null) throw new DomainError('unauthenticated', 'The password is wrong');
    await this.signIn.attempt(current.email);
    if (!(await this.hasher.verify(current.passwordHash, password))) throw new DomainError('unauthenticated', 'The password is wrong');
    await this.signIn.succeeded(current.email);
    return current.passwordHash;
  }

  private async deleteIn(manager: EntityManager, userId: string, verifiedHash: string, unknowable: string) {
    // 1. The listings (an accept's or take's first lock), 3. the user's row.
    const locked = await this.privacy.openListingsOf(manager, userId, true);
    const account = await this.privacy.lockForDeletion(manager, userId);
    if (!account || account.passwordHash !== verifiedHash) throw new DomainError('unauthenticated', 'The password is wrong');

    const owed = await this.privacy.stillOwed(manager, userId, TERMINAL_STATES);
    if (Object.values(owed).some((count) => count > 0)) {
      throw new DomainError(
        'live_trades',
        'The account has a live or disputed trade, or money of a trade still owed to or by it; it can be deleted once they end',
      );
    }
    // Posting needs the user's row too, so the listings cannot change any more; one posted just before is not locked.
    const now = await this.privacy.openListingsOf(manager, userId, false);
    const lockedIds = new Set([...locked.requests, ...locked.offers]);
    if ([...now.requests, ...now.offers].some((id) => !lockedIds.has(id))) throw new ListingsMoved();

    for (const id of locked.requests) await this.market.cancelRequest(manager, id, userId);
    for (const id of locked.offers) await this.market.setOfferStatus(manager, id, userId, [...OPEN_OFFER_STATES], 'closed');

    await this.privacy.pseudonymize(manager, userId, {
      email: deletedEmailPlaceholder(userId),
      displayName: DELETED_DISPLAY_NAME,
      passwordHash: unknowable,
    });
    await this.privacy.revokeAccess(manager, userId);
    // Its webhook endpoints and their delivery log go: a pending delivery finds no row and sends nothing.
    await this.webhooks.deleteAllOf(manager, userId);
    // After the row is marked deleted: the statements' trigger allows erasing a deleted author's text only.
    await this.disputes.eraseStatementsBy(manager, userId);
    // Their ratings' comments likewise; the scores stay, and the reputation they counted into.
    await this.ratings.eraseCommentsBy(manager, userId);
    // Their messages' texts likewise (the other party's stay, until the retention period erases them).
    await this.messages.eraseSentBy(manager, userId);
    await this.accountEvents.eraseAddressesOf(manager, userId);
    // Every trade of theirs has ended and owes nothing (checked above): their payment details go from all of them.
    await this.handles.eraseEnded(manager, await this.privacy.tradeIdsOf(manager, userId));
  }
}
