/** Every event type API.md names ("Events: streams and client webhooks"). */
export const EVENT_TYPES = [
  'trade.created',
  'trade.funded',
  'trade.payout_sent',
  'trade.releasing',
  'trade.refunding',
  'trade.splitting',
  'trade.completed',
  'trade.refunded',
  'trade.settled_split',
  'trade.expired',
  'trade.cancelled',
  'trade.disputed',
  'trade.deadline_extended',
  'trade.settlement_failing',
  'trade.message',
  'dispute.opened',
  'dispute.statement_added',
  'dispute.resolved',
  'ping',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];
