import { MigrationInterface, QueryRunner } from 'typeorm';

const EVENT_TYPES = [
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
];

/**
 * The event log clients follow (streams, webhooks): one row per event, recorded in the transaction of the change it
 * tells of, and who receives it. `data` is the envelope's data as of that change, without payment handles and
 * without message texts (both are filled in, or not, when it is sent). Rows are purged after a day (housekeeping's
 * `purge-events`): a stream replays at most 24 hours back, and the webhooks' delivery log keeps its own copy of ids.
 */
export class Events1764000000034 implements MigrationInterface {
  name = 'Events1764000000034';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE events (
        id uuid PRIMARY KEY,
        seq bigserial NOT NULL UNIQUE,
        type text NOT NULL CHECK (type IN (${EVENT_TYPES.map((t) => `'${t}'`).join(', ')})),
        trade_id uuid REFERENCES trades (id),
        dispute_id uuid,
        message_id uuid,
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX events_created_at ON events (created_at)`);
    await q.query(`CREATE INDEX events_trade ON events (trade_id, created_at) WHERE trade_id IS NOT NULL`);
    await q.query(`
      CREATE TABLE event_recipients (
        event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        -- No foreign key to users: its check would take the users' rows (KEY SHARE) after the trade's row, against
        -- the lock order (users before trades); accounts are never deleted, only pseudonymized.
        user_id uuid NOT NULL,
        role text NOT NULL CHECK (role IN ('traveler', 'counterparty')),
        PRIMARY KEY (event_id, user_id)
      )`);
    await q.query(`CREATE INDEX event_recipients_user ON event_recipients (user_id, event_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE event_recipients`);
    await q.query(`DROP TABLE events`);
  }
}
