import { Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../../common/auth/decorators';
import { verifyPayload } from '../../common/crypto/hmac-signature';
import { bankConfig, tradesConfig } from '../../config';
import { DomainError } from '../../common/errors';
import { OutboxMessage } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { PaypalWebhookVerifier } from '../providers/paypal/paypal-webhook.verifier';
import { WECHAT, WechatPort } from '../providers/wechat/wechat.port';
import { bankIncomingJobId, bankReturnJobId, checkFundingJobId, settleJobId, verifyPayoutJobId } from '../../queues/job-ids';
import { fundingPoll, keepTrying } from '../../queues/retry-policies';
import { TRADE_STATES } from '../../trades/trade.state-machine';
import { fundingCheckNeeded } from './funding-check-needed';
import { ProviderReceipts, ReceivedEvent } from './provider-receipts.service';

export { PROVIDER_EVENT_CONTEXT } from './provider-receipts.service';

/** A provider's event, received: `duplicate` when it had been received before (nothing done twice). */
export class WebhookReceiptView {
  @ApiProperty({ enum: [true] }) received: true;
  @ApiProperty() duplicate: boolean;
}

const BANK_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A provider's event id as a job id can carry it: PayPal's `WH-…` and WeChat's ids are far shorter, and have no `:`. */
const PROVIDER_EVENT_ID = /^[^:\s]{1,128}$/;

/** Refuses an event id no job id can carry, before anything is stored (a 400, not a 500 later). */
function assertEventId(eventId: string): void {
  if (!PROVIDER_EVENT_ID.test(eventId)) {
    throw DomainError.validation([{ field: 'id', code: 'invalid', message: 'An event id is 1–128 characters, without spaces or ":"' }]);
  }
}

interface BankEvent {
  id?: unknown;
  type?: unknown;
  data?: { id?: unknown; returnsTransferId?: unknown };
}

interface PaypalEvent {
  id?: unknown;
  event_type?: unknown;
  resource?: {
    id?: string;
    payout_item_id?: string;
    supplementary_data?: { related_ids?: { order_id?: string; authorization_id?: string } };
  };
}

/**
 * Provider callbacks. A PayPal event is verified (401 `invalid_signature`, nothing stored, otherwise), stored
 * once under its event id with its raw body, and turned into a job that asks PayPal for the truth: an event
 * only says "look again", so a duplicate, late or out-of-order one can never move a trade backwards. An event
 * about an order whose trade no check could change (`fundingCheckNeeded`) is stored and queues nothing, and the
 * events that arrive while a funding check is queued or running share it (a running one looks again for them).
 */
@ApiTags('providers')
@Public()
@Controller('v1/provider-webhooks')
export class ProviderWebhooksController {
  constructor(
    private readonly verifier: PaypalWebhookVerifier,
    private readonly receipts: ProviderReceipts,
    @Inject(bankConfig.KEY) private readonly bankSettings: ConfigType<typeof bankConfig>,
    @Inject(tradesConfig.KEY) private readonly tradesSettings: ConfigType<typeof tradesConfig>,
    @Inject(WECHAT) private readonly wechatPay: WechatPort,
  ) {}

  @Post('paypal')
  @HttpCode(200)
  @ApiOkResponse({ type: WebhookReceiptView })
  async paypal(@Req() request: FastifyRequest & { rawBody?: Buffer }): Promise<{ received: true; duplicate: boolean }> {
    const raw = request.rawBody ?? Buffer.alloc(0);
    const verdict = await this.verifier.verify(request.headers, raw);
    // One answer whatever the reason (the verifier logs it): a refusal never tells what the certificate URL reached.
    if (!verdict.ok) throw new DomainError('invalid_signature', 'The webhook signature was refused');
    const event = (request.body ?? {}) as PaypalEvent;
    if (typeof event.id !== 'string' || typeof event.event_type !== 'string') {
      throw DomainError.validation([{ field: 'id', code: 'required', message: 'A PayPal event has an id and an event_type' }]);
    }
    const eventId = event.id;
    assertEventId(eventId);
    const eventType = event.event_type;
    return this.record({
      provider: 'paypal',
      eventId,
      eventType,
      raw: raw.toString('utf8'),
      jobs: [],
      trade: this.paypalTrade(eventId, event),
    });
  }

  /**
   * The bank's callbacks, signed `X-Signature` (HMAC over the time and raw body, five minutes of tolerance).
   * Stored once under the event id; each asks the bank for the truth through a job: a settled incoming
   * transfer is decided, a return settled or failed moves its suspense or its trade's refund on.
   */
  @Post('bank')
  @HttpCode(200)
  @ApiOkResponse({ type: WebhookReceiptView })
  async bank(@Req() request: FastifyRequest & { rawBody?: Buffer }): Promise<{ received: true; duplicate: boolean }> {
    const raw = request.rawBody ?? Buffer.alloc(0);
    const header = request.headers['x-signature'];
    const verdict = verifyPayload(this.bankSettings.webhookSecret, typeof header === 'string' ? header : undefined, raw);
    if (!verdict.ok) throw new DomainError('invalid_signature', `The callback signature was refused (${verdict.reason})`);
    const event = (request.body ?? {}) as BankEvent;
    if (typeof event.id !== 'string' || typeof event.type !== 'string' || typeof event.data?.id !== 'string') {
      throw DomainError.validation([{ field: 'id', code: 'required', message: 'A bank event has an id, a type and data.id' }]);
    }
    // The ids go into job ids (at most 200 characters, no ':'): the bank's are short tokens.
    const badId = (
      [
        ['id', event.id],
        ['data.id', event.data.id],
        ['data.returnsTransferId', event.data.returnsTransferId ?? 'absent'],
      ] as const
    ).find(([, value]) => typeof value !== 'string' || !BANK_ID.test(value));
    if (badId) {
      throw DomainError.validation([{ field: badId[0], code: 'invalid_format', message: `${badId[0]} is not a bank id` }]);
    }
    const eventId = event.id;
    const type = event.type;
    const data = event.data as { id: string; returnsTransferId?: unknown };
    const received: ReceivedEvent = { provider: 'bank', eventId, eventType: type, raw: raw.toString('utf8'), jobs: [] };
    if (type === 'transfer.settled') {
      received.jobs.push({
        queue: QUEUES.funding,
        jobName: JOBS.funding.receiveBankTransfer,
        jobId: bankIncomingJobId(data.id, eventId),
        payload: { transferId: data.id },
        retry: keepTrying(this.tradesSettings.providerPollEveryMs),
      });
    } else if (['return.settled', 'return.returned', 'return.failed'].includes(type) && typeof data.returnsTransferId === 'string') {
      // The return may be of suspense, or a trade's refund: both jobs ask the bank and do nothing if it is not theirs.
      received.jobs.push({
        queue: QUEUES.settlement,
        jobName: JOBS.settlement.returnBankMoney,
        jobId: bankReturnJobId(data.returnsTransferId, eventId),
        payload: { transferId: data.returnsTransferId },
        retry: keepTrying(this.tradesSettings.providerPollEveryMs),
      });
      received.trade = { key: 'bank_transfer_id', value: data.returnsTransferId, job: (tradeId) => this.settle(tradeId, eventId) };
    }
    return this.record(received);
  }

  /**
   * WeChat's notifications: the `Wechatpay-*` signature checked with the key its serial names (a platform certificate,
   * or the WeChat Pay public key for `PUB_KEY_ID_…`) and the resource
   * decrypted with the APIv3 key (401 `invalid_signature` and nothing stored otherwise), stored once under the
   * notification id, and turned into the verification job of the trade that reported the transfer, which asks
   * WeChat for the truth. A notification for a transfer no trade reported is stored and changes nothing.
   */
  @Post('wechat')
  @HttpCode(200)
  @ApiOkResponse({ type: WebhookReceiptView })
  async wechat(@Req() request: FastifyRequest & { rawBody?: Buffer }): Promise<{ received: true; duplicate: boolean }> {
    const raw = (request.rawBody ?? Buffer.alloc(0)).toString('utf8');
    const notification = await this.wechatPay.openNotification(request.headers, raw);
    if (!notification) throw new DomainError('invalid_signature', 'The notification signature was refused');
    const eventId = typeof notification.id === 'string' ? notification.id : undefined;
    const eventType = typeof notification.event_type === 'string' ? notification.event_type : 'unknown';
    if (!eventId) throw DomainError.validation([{ field: 'id', code: 'required', message: 'A WeChat notification has an id' }]);
    assertEventId(eventId);
    const transferId = (notification.resource as { transfer_id?: unknown })?.transfer_id;
    const trade: ReceivedEvent['trade'] =
      typeof transferId === 'string'
        ? {
            key: 'wechat_transfer_id',
            value: transferId,
            job: (tradeId) => ({
              queue: QUEUES.verification,
              jobName: JOBS.verification.verifyPayout,
              jobId: verifyPayoutJobId(tradeId, eventId),
              payload: { tradeId },
              retry: keepTrying(this.tradesSettings.providerPollEveryMs),
            }),
          }
        : undefined;
    return this.record({ provider: 'wechat', eventId, eventType, raw, jobs: [], trade });
  }

  /**
   * Stores the event once under its id (its body encrypted) and, the first time only, queues its jobs with it, in one
   * statement (`ProviderReceipts.receive`); a funding check only if none is pending or running for the trade and its
   * authorization is not recorded (the funding record's pending mark, set by the same statement).
   */
  private async record(event: ReceivedEvent): Promise<{ received: true; duplicate: boolean }> {
    const { fresh } = await this.receipts.receive(event);
    return { received: true, duplicate: !fresh };
  }

  /**
   * The trade a PayPal event names and what it asks for it: an order's events a funding check (only of a trade in a
   * state `fundingCheckNeeded` allows for this event), a payout item's a settlement run; none for any other event.
   */
  private paypalTrade(eventId: string, event: PaypalEvent): ReceivedEvent['trade'] {
    const type = event.event_type as string;
    const resource = event.resource ?? {};
    const orderId =
      type === 'CHECKOUT.ORDER.APPROVED'
        ? resource.id
        : type.startsWith('PAYMENT.AUTHORIZATION.')
          ? resource.supplementary_data?.related_ids?.order_id
          : undefined;
    if (orderId) {
      const checkIn = TRADE_STATES.filter((state) => fundingCheckNeeded(state, type));
      // Stored whatever it says; a check only when one could change something, and then one for a burst.
      return {
        key: 'order_id',
        value: orderId,
        checkIn,
        job: (tradeId) => ({
          queue: QUEUES.funding,
          jobName: JOBS.funding.checkFunding,
          jobId: checkFundingJobId(tradeId, eventId),
          payload: { tradeId },
          retry: fundingPoll(this.tradesSettings.fundingWindowPaypalMs, this.tradesSettings),
        }),
      };
    }
    if (type.startsWith('PAYMENT.PAYOUTS-ITEM.') && resource.payout_item_id) {
      return { key: 'payout_item_id', value: resource.payout_item_id, job: (tradeId) => this.settle(tradeId, eventId) };
    }
    return undefined;
  }

  private settle(tradeId: string, eventId: string): OutboxMessage {
    return {
      queue: QUEUES.settlement,
      jobName: JOBS.settlement.settleTrade,
      jobId: settleJobId(tradeId, eventId),
      payload: { tradeId },
      retry: keepTrying(this.tradesSettings.providerPollEveryMs),
    };
  }
}
