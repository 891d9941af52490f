/**
 * Every BullMQ queue and job name, in one place. Job ids come from the data (never a `:`, which
 * BullMQ refuses), so the same work is never queued twice.
 */
export const QUEUES = {
  housekeeping: 'housekeeping',
  rates: 'rates',
  market: 'market',
  deadlines: 'deadlines',
  funding: 'funding',
  settlement: 'settlement',
  /** The RMB leg: a reported WeChat transfer verified, and the last search before a payout window refunds. */
  verification: 'verification',
  /** The books compared with what the providers say, trade by trade, and platform totals. */
  reconciliation: 'reconciliation',
  /** Client webhooks: one job per endpoint and event, so a slow receiver holds up no other. */
  webhooks: 'webhooks',
  /** The provider mocks' outgoing webhooks (sandbox mode only). */
  sandboxWebhooks: 'sandbox-webhooks',
  /** The bank mock's settlements and callbacks (sandbox mode only). */
  sandboxBank: 'sandbox-bank',
  /** The WeChat mock's notifications (sandbox mode only). */
  sandboxWechat: 'sandbox-wechat',
  /** Events recorded in the event log, handed to every sink (streams, client webhooks) after their commit. */
  events: 'events',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const JOBS = {
  housekeeping: {
    purgeIdempotencyKeys: 'purge-idempotency-keys',
    purgePublishedOutbox: 'purge-published-outbox',
    /** Erases ended trades' payment handle snapshots once HANDLE_RETENTION_MS has passed and nothing is owed. */
    eraseHandleSnapshots: 'erase-handle-snapshots',
    /** Erases the texts of messages whose trade ended MESSAGE_RETENTION_MS ago. */
    eraseMessageTexts: 'erase-message-texts',
    /** Deletes events older than a day (and a margin): streams replay at most 24 hours back. */
    purgeEvents: 'purge-events',
  },
  rates: {
    refreshReference: 'refresh-reference-rate',
  },
  market: {
    /** Delayed until a request's expiry; its id is `expire-request-<requestId>`. */
    expireRequest: 'expire-request',
    /** Periodic: expires whatever requests a lost job left open. */
    sweepExpiredRequests: 'sweep-expired-requests',
  },
  deadlines: {
    /** Delayed until a trade's funding window closes; its id is `deadline-<tradeId>-funding`. */
    fundingDeadline: 'funding-deadline',
    /** Delayed until a funded trade's payout window closes; its id is `deadline-<tradeId>-payout`. */
    payoutDeadline: 'payout-deadline',
    /** Periodic: applies every deadline whose job was lost. */
    sweepDeadlines: 'sweep-deadlines',
  },
  funding: {
    /** Asks the provider whether a trade's USD arrived, and authorizes an approved order; idempotent. */
    checkFunding: 'check-funding',
    /** A settled incoming bank transfer, decided once: funds its trade, or goes to suspense to be returned. */
    receiveBankTransfer: 'receive-bank-transfer',
  },
  settlement: {
    /** Moves a releasing or refunding trade's money at the provider, step by step, each step once. */
    settleTrade: 'settle-trade',
    /** Delayed to before a PayPal authorization's honour period ends: captures it into escrow if still held. */
    captureIntoEscrow: 'capture-into-escrow',
    /** Sends an incoming bank transfer's suspense part back to its sender, and books it once the bank confirms. */
    returnBankMoney: 'return-bank-money',
    /** Periodic: queues again the funding checks, settlements, captures and returns whose job Redis lost. */
    sweepProviderWork: 'sweep-provider-work',
  },
  verification: {
    /** Checks a reported WeChat transfer with WeChat until it verifies, fails, or the verify deadline passes. */
    verifyPayout: 'verify-payout',
    /** At the payout deadline: looks for a matching transfer the counterparty made but never reported, else refunds. */
    lastSearch: 'last-search',
  },
  reconciliation: {
    /** Periodic, and on an operator's request: one incremental run (changed trades, unfinished outcomes, open mismatches). */
    reconcile: 'reconcile',
  },
  webhooks: {
    /** Every attempt of one delivery (an event to one endpoint), signed afresh each time; retried with backoff. */
    deliverWebhook: 'deliver-webhook',
    /** Periodic: queues again the deliveries whose job Redis lost, and purges the log past its retention. */
    sweepDeliveries: 'sweep-webhook-deliveries',
  },
  sandboxWebhooks: {
    /** One delivery of a PayPal mock event; signed afresh at every attempt. */
    deliverPaypal: 'deliver-paypal-webhook',
    /** The mock settles a payout batch's items (delayed), or returns an unclaimed item. */
    settlePaypalPayout: 'settle-paypal-payout',
    returnPaypalPayoutItem: 'return-paypal-payout-item',
  },
  sandboxBank: {
    /** Delayed by the settlement delay: an incoming transfer or a return settles (or fails). */
    settleTransfer: 'settle-bank-transfer',
    /** Delayed after a return to a closed account settled: the receiving bank sends it back. */
    bounceReturn: 'bounce-bank-return',
    /** One delivery of a bank callback; signed afresh at every attempt. */
    deliverWebhook: 'deliver-bank-webhook',
  },
  sandboxWechat: {
    /** One notification attempt; a failed one queues the next on WeChat's schedule. */
    deliverNotification: 'deliver-wechat-notification',
    /** Delayed by the time a sandbox transfer asked to stay PROCESSING: it succeeds, and is notified. */
    settleTransfer: 'settle-wechat-transfer',
  },
  events: {
    /** One recorded event handed to every sink; its id is `fan-out-<eventId>`. Sinks deduplicate a retried run. */
    fanOutEvent: 'fan-out-event',
    /** Periodic: queues again the events whose fan-out has not finished after EVENT_FAN_OUT_SWEEP_AFTER_MS. */
    sweepFanOut: 'sweep-event-fan-out',
  },
} as const;

export const ALL_QUEUES: QueueName[] = Object.values(QUEUES);

/** BullMQ refuses `:` in custom ids (except a legacy 3-part form): refuse them everywhere instead. */
export function assertJobId(jobId: string): string {
  if (jobId.length === 0 || jobId.length > 200 || jobId.includes(':') || /^\d+$/.test(jobId)) {
    throw new Error(`Invalid job id "${jobId}": 1–200 characters, no ':', not only digits`);
  }
  return jobId;
}
