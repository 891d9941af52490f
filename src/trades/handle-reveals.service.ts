import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AuthUser } from '../common/auth/auth-user';
import { FieldEncryption } from '../common/crypto/field-encryption';
import { HANDLE_CONTEXT } from '../common/crypto/handle-context';
import type { TradeView } from './dto/trades.dto';
import { HandleRevealsRepository, RevealMarker } from './handle-reveals.repository';
import { presentTrade } from './trade.presenter';
import type { Trade } from './trade.types';

/** How many first showings a process remembers, so a counterparty's later reads cost no database round trip. */
const REMEMBERED_MARKERS = 10_000;

/**
 * The one place a trade's payment handle is shown to its counterparty: the traveler's WeChat id, only to the
 * trade's counterparty and only while it is `funded` or `payout_sent` (API.md). The first time it is shown in each
 * of those states, a `handle_revealed` event goes on the trade's timeline (once, however many reads race for it);
 * a later read only finds the marker (in this process's memory, or by one primary-key read).
 */
@Injectable()
export class HandleReveals {
  private readonly remembered = new Set<string>();

  constructor(
    private readonly reveals: HandleRevealsRepository,
    private readonly encryption: FieldEncryption,
  ) {}

  /** The trade as `caller` may see it, the traveler's WeChat id included where it is shown (and its showing recorded). */
  present(caller: AuthUser, trade: Trade): Promise<TradeView> {
    return this.presentRecording(caller, trade, (marker) => this.recordShown(marker));
  }

  /**
   * `present` for the change that just put `trade` in its state, in that change's transaction: the handle's first
   * showing in the new state is recorded with the change (no other reader can have seen a state not yet committed,
   * so nothing is read first), and the answer never shows a handle whose showing did not commit.
   */
  presentChanged(manager: EntityManager, caller: AuthUser, trade: Trade): Promise<TradeView> {
    return this.presentRecording(caller, trade, async (marker) => {
      await this.reveals.markFirst(marker, { kind: 'counterparty', id: marker.viewerId }, this.detail(marker), manager);
    });
  }

  /** Recorded before it is answered: a handle whose showing could not be recorded is not shown. */
  private async presentRecording(caller: AuthUser, trade: Trade, record: (marker: RevealMarker) => Promise<void>): Promise<TradeView> {
    const shown = caller.id === trade.counterpartyId && (trade.state === 'funded' || trade.state === 'payout_sent');
    if (!shown || !trade.travelerWechat) return presentTrade(trade);
    const value = this.encryption.decrypt(trade.travelerWechat, HANDLE_CONTEXT.wechatId);
    await record({ tradeId: trade.id, state: trade.state, viewerId: caller.id, field: 'travelerWechatId' });
    return presentTrade(trade, value);
  }

  private detail(marker: RevealMarker): Record<string, unknown> {
    return { field: marker.field, to: 'counterparty', state: marker.state };
  }

  private async recordShown(marker: RevealMarker): Promise<void> {
    const key = `${marker.tradeId}/${marker.state}/${marker.viewerId}/${marker.field}`;
    if (this.remembered.has(key)) return;
    if (!(await this.reveals.marked(marker))) {
      await this.reveals.markFirst(marker, { kind: 'counterparty', id: marker.viewerId }, this.detail(marker));
    }
    if (this.remembered.size >= REMEMBERED_MARKERS) this.remembered.clear();
    this.remembered.add(key);
  }
}
