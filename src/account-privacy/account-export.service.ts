import { Injectable } from '@nestjs/common';
import type { AuthUser } from '../common/auth/auth-user';
import { ChatRepository } from '../chat/chat.repository';
import type { MessageView } from '../chat/dto/chat.dto';
import { presentMessage } from '../chat/message.presenter';
import { FieldEncryption } from '../common/crypto/field-encryption';
import { DomainError } from '../common/errors';
import { formatAmount } from '../common/money';
import { DisputesRepository } from '../disputes/disputes.repository';
import { presentDispute, presentStatement } from '../disputes/disputes.service';
import type { DisputeView, StatementView } from '../disputes/dto/disputes.dto';
import type { OfferView, RequestView } from '../market/dto/market.dto';
import { presentOffer, presentRequest } from '../market/market.presenter';
import { presentEndpoint } from '../notifications/webhooks/webhooks.presenter';
import { WebhooksRepository } from '../notifications/webhooks/webhooks.repository';
import { RatesService } from '../rates/rates.service';
import { RatingsService } from '../ratings/ratings.service';
import type { TradeEventView, TradeView } from '../trades/dto/trades.dto';
import { presentEvent, presentTrade } from '../trades/trade.presenter';
import type { TradePosition } from '../trades/trade-position';
import { TradeReadsRepository } from '../trades/trade-reads.repository';
import { AccountEventsRepository } from '../users/account-events.repository';
import { AccountPrivacyRepository } from './account-privacy.repository';
import type { AccountExportView, ExportedAccountView } from './dto/account-privacy.dto';
import type { ApiKeyView } from '../users/dto/users.dto';
import { presentApiKey, presentUser } from '../users/users.presenter';
import { UsersRepository } from '../users/users.repository';
import { HANDLE_CONTEXT } from '../common/crypto/handle-context';

/** Rows read per query: the export walks everything the caller has, a page at a time, with no overall limit. */
const PAGE = 200;

/** Every row of a list read `PAGE` rows at a time, each page after the last row of the one before. */
async function readAll<Row, After>(read: (after: After | undefined) => Promise<Row[]>, afterOf: (row: Row) => After): Promise<Row[]> {
  const rows: Row[] = [];
  for (let after: After | undefined; ;) {
    const page = await read(after);
    rows.push(...page);
    if (page.length < PAGE) return rows;
    after = afterOf(page[page.length - 1]);
  }
}

/**
 * `GET /v1/me/export`: everything the service keeps about the caller, in the shapes the rest of the API uses.
 * The caller's own payment handles are decrypted; nobody else's appear: trades are presented as the caller's
 * list shows them without the counterparty's view of the traveler's wallet, timelines and disputes carry no
 * handles (API.md), and other users appear only by id (and, on listings, display name).
 */
@Injectable()
export class AccountExportService {
  constructor(
    private readonly users: UsersRepository,
    private readonly privacy: AccountPrivacyRepository,
    private readonly accountEvents: AccountEventsRepository,
    private readonly trades: TradeReadsRepository,
    private readonly disputes: DisputesRepository,
    private readonly rates: RatesService,
    private readonly ratings: RatingsService,
    private readonly encryption: FieldEncryption,
    private readonly messages: ChatRepository,
    private readonly webhooks: WebhooksRepository,
  ) {}

  async export(caller: AuthUser): Promise<AccountExportView> {
    const account = await this.account(caller.id);
    const { trades, disputes } = await this.tradesAndDisputes(caller.id);
    return {
      exportedAt: new Date().toISOString(),
      account,
      apiKeys: await this.apiKeys(caller.id),
      consoleSessions: (await this.privacy.consoleSessionsOf(caller.id)).map((session) => ({
        createdAt: session.createdAt.toISOString(),
        expiresAt: session.expiresAt.toISOString(),
      })),
      dailyVolume: (await this.privacy.dailyVolumeOf(caller.id)).map((v) => ({ day: v.day, volumeUsd: formatAmount(v.usdCents, 'USD') })),
      // The caller's own actions only (their handle changes): the self-trade refusals and flags kept on the account
      // are operators' fraud records, not the caller's data to read; exporting them would tell someone guessing at
      // another user's wallet that a guess matched, or that operators were alerted.
      securityEvents: (await this.accountEvents.handleChangesOf(caller.id)).map((event) => ({ ...event, at: event.at.toISOString() })),
      // Deleted ones too, with when: their rows stay for the delivery log. Never a secret.
      webhookEndpoints: (await this.webhooks.allOf(caller.id)).map((endpoint) => ({
        ...presentEndpoint(endpoint),
        deletedAt: endpoint.deletedAt?.toISOString() ?? null,
      })),
      ...(await this.listings(caller.id)),
      trades,
      disputes,
      messages: await this.messagesSent(caller.id),
      ratings: await this.ratings.exportOf(caller.id),
    };
  }

  private async account(userId: string): Promise<ExportedAccountView> {
    const user = await this.users.findWithReputation(userId);
    if (!user) throw DomainError.notFound('User');
    const handles = await this.privacy.handlesOf(userId);
    const counters = user.reputation;
    return {
      ...presentUser(user),
      reputationCounters: {
        completedTrades: counters?.completedTrades ?? 0,
        failedTrades: counters?.failedTrades ?? 0,
        disputesWon: counters?.disputesWon ?? 0,
        disputesLost: counters?.disputesLost ?? 0,
        ratingCount: counters?.ratingCount ?? 0,
        recentReleaseMinutes: counters?.recentReleaseMinutes ?? [],
      },
      paymentDetails: {
        wechatId: handles.wechatId && this.encryption.decrypt(handles.wechatId, HANDLE_CONTEXT.wechatId),
        paypalEmail: handles.paypalEmail && this.encryption.decrypt(handles.paypalEmail, HANDLE_CONTEXT.paypalEmail),
      },
    };
  }

  /**
   * The messages the caller sent, oldest first, as the trade's chat shows them (erased ones as `text: null`). Only
   * their own: the other party's words in the same chats are that party's data, and are in that party's export.
   */
  private async messagesSent(userId: string): Promise<MessageView[]> {
    const messages: MessageView[] = [];
    for (let after: string | undefined; ;) {
      const page = await this.messages.sentBy(userId, PAGE, after);
      messages.push(...page.map(presentMessage));
      if (page.length < PAGE) return messages;
      after = page[page.length - 1].seq;
    }
  }

  private async apiKeys(userId: string): Promise<ApiKeyView[]> {
    const keys = await readAll(
      (after?: { createdAt: string; id: string }) => this.users.listApiKeys(userId, PAGE, after),
      (key) => ({ createdAt: key.createdAt.toISOString(), id: key.id }),
    );
    return keys.map(presentApiKey);
  }

  private async listings(userId: string): Promise<{ requests: RequestView[]; offers: OfferView[] }> {
    const reference = (await this.rates.current())?.rate ?? null;
    const requests = await readAll(
      (after?: string) => this.privacy.requestsOf(userId, PAGE, after),
      (request) => request.id,
    );
    const offers = await readAll(
      (after?: string) => this.privacy.offersOf(userId, PAGE, after),
      (offer) => offer.id,
    );
    return { requests: requests.map((r) => presentRequest(r, reference)), offers: offers.map((o) => presentOffer(o, reference)) };
  }

  /** The caller's trades newest first, each with its whole timeline, and their disputes with every statement. */
  private async tradesAndDisputes(userId: string): Promise<{
    trades: (TradeView & { timeline: TradeEventView[] })[];
    disputes: DisputeView[];
  }> {
    const trades: (TradeView & { timeline: TradeEventView[] })[] = [];
    const disputes: DisputeView[] = [];
    for (let after: TradePosition | undefined; ;) {
      const page = await this.trades.listForUser(userId, PAGE, after);
      if (page.length === 0) break;
      const ids = page.map((t) => t.id);
      const timelines = new Map<string, TradeEventView[]>(ids.map((id) => [id, []]));
      for (const event of await this.trades.eventsOfTrades(ids)) timelines.get(event.tradeId)!.push(presentEvent(event));
      // No handle: the counterparty's view of the traveler's wallet is for the live trade only, never an export.
      trades.push(...page.map((trade) => ({ ...presentTrade(trade), timeline: timelines.get(trade.id)! })));

      const pageDisputes = await this.disputes.ofTrades(ids);
      if (pageDisputes.length > 0) {
        const statements = new Map<string, StatementView[]>(pageDisputes.map((d) => [d.id, []]));
        for (const statement of await this.disputes.statementsOf([...statements.keys()])) {
          statements.get(statement.disputeId)!.push(presentStatement(statement));
        }
        disputes.push(...pageDisputes.map((dispute) => ({ ...presentDispute(dispute), statements: statements.get(dispute.id)! })));
      }
      if (page.length < PAGE) break;
      const last = page[page.length - 1];
      after = { createdAt: last.position, id: last.id };
    }
    return { trades, disputes };
  }
}
