import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { AuthUser } from '../common/auth/auth-user';
import { FieldEncryption, normalizeEmail, normalizeWechatId } from '../common/crypto/field-encryption';
import { DomainError } from '../common/errors';
import { authConfig } from '../config';
import { AccountEventsRepository, HandleField } from './account-events.repository';
import type { PayoutAccountDto, UserView } from './dto/users.dto';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';
import { HANDLE_CONTEXT } from '../common/crypto/handle-context';
import { Transactions } from '../database/transactions';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Changes of a user's payment handles (WeChat wallet, PayPal payout email). A change is refused while its owner
 * is suspended (403), while they have a live trade, an open request or an offer not closed (409 `wallet_locked`:
 * a handle cannot be swapped under a listing or between guesses at another user's wallet), and past
 * `HANDLE_CHANGES_PER_DAY` in 24 hours (429). Each change is recorded with the caller's address, never the value.
 * Setting the value already on file changes nothing: 200, not counted, not recorded, even while locked.
 */
@Injectable()
export class PaymentHandlesService {
  constructor(
    private readonly transactions: Transactions,
    private readonly users: UsersRepository,
    private readonly usersService: UsersService,
    private readonly events: AccountEventsRepository,
    private readonly encryption: FieldEncryption,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  /** Stores the WeChat id encrypted, with its blind index. Live trades keep the snapshot they took. */
  setWechatWallet(caller: AuthUser, wechatId: string, ip: string | null): Promise<UserView> {
    return this.change(caller, 'wechat_id', normalizeWechatId(wechatId), ip);
  }

  setPayoutAccount(caller: AuthUser, input: PayoutAccountDto, ip: string | null): Promise<UserView> {
    return this.change(caller, 'paypal_email', normalizeEmail(input.paypalEmail), ip);
  }

  private async change(caller: AuthUser, field: HandleField, value: string, ip: string | null): Promise<UserView> {
    const context = field === 'wechat_id' ? HANDLE_CONTEXT.wechatId : HANDLE_CONTEXT.paypalEmail;
    const index = this.encryption.blindIndex(value, context);
    await this.transactions.run(async (manager) => {
      // The guard read suspension before this transaction; read again under the lock every trade and post takes.
      const owner = await this.events.lockOwner(manager, caller.id);
      if (!owner) throw new DomainError('unauthenticated', 'The account no longer exists');
      if (owner.suspended) throw new DomainError('account_suspended', 'The account is suspended: it may only act on its live trades');
      // Compared under the key the stored index was made with: mid-rotation the same value again is still no change.
      const stored = field === 'wechat_id' ? owner.wechatIdIndex : owner.paypalEmailIndex;
      if (stored !== null && this.encryption.matchesBlindIndex(value, context, stored)) return;
      if (await this.events.hasLiveCommitments(manager, caller.id)) {
        throw new DomainError(
          'wallet_locked',
          'Payment handles cannot change while you have a live trade, an open request or an offer that is not closed',
        );
      }
      const recent = await this.events.handleChangesWithin(manager, caller.id, DAY_MS);
      if (recent.count >= this.auth.handleChangesPerDay) {
        throw DomainError.rateLimited(
          `Payment handles may change ${this.auth.handleChangesPerDay} times in 24 hours; retry after the time in Retry-After`,
          recent.freeInSeconds,
        );
      }
      const handle = { ...this.encryption.encrypt(value, context), index };
      if (field === 'wechat_id') await this.users.setWechatHandle(manager, caller.id, handle);
      else await this.users.setPaypalHandle(manager, caller.id, handle);
      await this.events.recordHandleChange(manager, caller.id, field, ip);
    });
    return this.usersService.me(caller);
  }
}
