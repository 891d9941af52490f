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
const TYPES = `ARRAY[${EVENT_TYPES.map((t) => `'${t}'`).join(', ')}]::text[]`;

/**
 * Client webhooks.
 *
 * - `webhook_endpoints`: a user's receiving URLs, each with its signing secret encrypted at rest (FieldEncryption,
 *   recoverable since every attempt is signed with it), the event types it wants (null: all), and the run of
 *   consecutive events that failed every attempt, which disables it. An endpoint its owner deletes keeps its row
 *   for the delivery log, without its secret.
 * - `webhook_deliveries`: one row per endpoint and event, updated at each attempt. No foreign key to the event
 *   log: events are purged after a day, the log stays, and a ping has no event row.
 */
export class ClientWebhooks1764000000035 implements MigrationInterface {
  name = 'ClientWebhooks1764000000035';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_endpoints (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id),
        url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
        events text[] CHECK (events IS NULL OR (cardinality(events) > 0 AND events <@ ${TYPES})),
        secret_ciphertext text,
        secret_key_id text,
        enabled boolean NOT NULL DEFAULT true,
        consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
        disabled_at timestamptz,
        deleted_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT webhook_endpoints_secret_whole CHECK ((secret_ciphertext IS NULL) = (secret_key_id IS NULL)),
        CONSTRAINT webhook_endpoints_deleted_has_no_secret CHECK ((deleted_at IS NULL) = (secret_ciphertext IS NOT NULL)),
        CONSTRAINT webhook_endpoints_disabled_when CHECK (enabled = (disabled_at IS NULL) OR deleted_at IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX webhook_endpoints_by_user ON webhook_endpoints (user_id, created_at) WHERE deleted_at IS NULL`);

    await q.query(`
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        event_id uuid NOT NULL,
        event_type text NOT NULL CHECK (event_type = ANY (${TYPES})),
        recipient_role text CHECK (recipient_role IN ('traveler', 'counterparty')),
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_status_code integer,
        last_error text CHECK (length(last_error) <= 200),
        next_attempt_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz,
        CONSTRAINT webhook_deliveries_once UNIQUE (endpoint_id, event_id),
        CONSTRAINT webhook_deliveries_delivered_when CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX webhook_deliveries_newest ON webhook_deliveries (endpoint_id, created_at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE webhook_endpoints`);
  }
}
