import type { EntityManager } from 'typeorm';
import { DomainError } from '../common/errors';
import type { UsersRepository } from '../users/users.repository';

/**
 * Inside the posting transaction: the maker's row locked against a concurrent suspension (the guard read it
 * before the transaction began), then the payment details the maker's side of a trade will need.
 */
export async function lockMakerForPosting(
  users: UsersRepository,
  manager: EntityManager,
  makerId: string,
  needsPayoutAccount: boolean,
): Promise<void> {
  const actor = await users.lockActor(manager, makerId);
  if (!actor) throw new DomainError('unauthenticated', 'The account no longer exists');
  if (actor.suspended) throw new DomainError('account_suspended', 'The account is suspended: it may only act on its live trades');
  if (!actor.hasWechatWallet || (needsPayoutAccount && !actor.hasPayoutAccount)) {
    throw new DomainError(
      'missing_payment_details',
      needsPayoutAccount
        ? 'Set your WeChat wallet (PUT /v1/me/wechat-wallet) and payout account (PUT /v1/me/payout-account) before posting'
        : 'Set your WeChat wallet (PUT /v1/me/wechat-wallet) before posting',
    );
  }
}
