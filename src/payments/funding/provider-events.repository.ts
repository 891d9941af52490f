import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { preparedAutocommit, SqlParams } from '../../common/database/query';
import type { EncryptedField } from '../../common/crypto/field-encryption';
import { NewOutboxRow, outboxInsertFromSql, outboxNotifySql } from '../../outbox/outbox.repository';
import type { TradeState } from '../../trades/trade.state-machine';

/** How a provider's event names the trade it is about. */
export type TradeKey = 'order_id' | 'payout_item_id' | 'bank_transfer_id' | 'wechat_transfer_id';

/** The trade (its id, and its state where it decides anything), read without a lock, by the event's key. */
const TRADE_BY: Record<TradeKey, (value: string) => string> = {
  order_id: (value) => `SELECT f.trade_id, t.state FROM trade_fundings f JOIN trades t ON t.id = f.trade_id WHERE f.order_id = ${value}`,
  payout_item_id: (value) => `SELECT trade_id, NULL::text AS state FROM trade_fundings WHERE payout_item_id = ${value}`,
  bank_transfer_id: (value) => `SELECT trade_id, NULL::text AS state FROM trade_fundings WHERE bank_transfer_id = ${value}`,
  wechat_transfer_id: (value) => `SELECT id AS trade_id, NULL::text AS state FROM trades WHERE wechat_transfer_id = ${value}`,
};

export interface EventReceipt {
  provider: 'paypal' | 'bank' | 'wechat';
  eventId: string;
  eventType: string;
  raw: EncryptedField;
  /** Written with the event, the first time it is received. */
  jobs: NewOutboxRow[];
  /**
   * The trade the event is about, looked up by the same statement, and its job: written with the event the first time
   * it is received, if there is such a trade. `job` is the trade's message built for the trade id `slot`.
   */
  trade?: {
    key: TradeKey;
    value: string;
    slot: string;
    job: NewOutboxRow;
    /**
     * The job is a funding check: only for a trade in one of `states`, counted on the funding record and written only
     * if this event marked it pending (`check_pending_job`), none being pending and the authorization not recorded.
     */
    check?: { states: readonly TradeState[] };
  };
}

export interface EventReceived {
  /** False when the event had been received before: nothing was written. */
  fresh: boolean;
  /** The trade found by the event's key (whether or not the event was fresh); null for none. */
  tradeId: string | null;
  /** The ids of the rows of `jobs`, in order (none unless fresh). */
  jobIds: string[];
  /** The id of the trade's job's row, when it was written. */
  tradeJobId: string | null;
}

/** The providers' events, each stored once under its id with the work it asks for. */
@Injectable()
export class ProviderEventsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Stores an event under its own id (its body encrypted) and, only if it is new, its jobs and its trade's job (and a
   * funding check's mark), in one statement sent in autocommit: the event and its work commit together or not at all,
   * and a duplicate, even one delivered concurrently (its insert waits for the first one's commit), writes nothing.
   * The funding record is locked only after the event's insert, which it waits for (lock order 4).
   */
  async receive(receipt: EventReceipt): Promise<EventReceived> {
    const params = new SqlParams();
    const trade = receipt.trade;
    const ctes = [
      `event AS (
         INSERT INTO provider_events (provider, event_id, event_type, raw_ciphertext, raw_key_id)
         VALUES (${params.add(receipt.provider)}, ${params.add(receipt.eventId)}, ${params.add(receipt.eventType)},
                 ${params.add(receipt.raw.ciphertext)}, ${params.add(receipt.raw.keyId)})
         ON CONFLICT DO NOTHING RETURNING event_id)`,
      ...receipt.jobs.map((job, i) => `job_${i} AS (${outboxInsertFromSql(job, params, 'event')})`),
    ];
    if (trade) {
      ctes.push(`trade AS (${TRADE_BY[trade.key](params.add(trade.value))} LIMIT 1)`);
      if (trade.check) {
        // The job id this event's check has, for the trade found: marked pending unless another is.
        const jobId = `replace(${params.add(trade.job.jobId)}::text, ${params.add(trade.slot)}::text, trade.trade_id::text)`;
        ctes.push(
          `mark AS (
             UPDATE trade_fundings f SET check_requests = f.check_requests + 1, check_pending_job = coalesce(f.check_pending_job, ${jobId}),
                    check_pending_since = coalesce(f.check_pending_since, now())
               FROM trade
              WHERE EXISTS (SELECT 1 FROM event) AND f.trade_id = trade.trade_id AND trade.state = ANY(${params.add(trade.check.states)}::text[])
                AND f.authorization_id IS NULL
             RETURNING f.trade_id, f.check_pending_job = ${jobId} AS queue)`,
        );
      }
      const from = trade.check
        ? '(SELECT trade_id FROM mark WHERE queue) AS target'
        : '(SELECT trade_id FROM trade WHERE EXISTS (SELECT 1 FROM event)) AS target';
      ctes.push(`trade_job AS (${outboxInsertFromSql(trade.job, params, from, { slot: trade.slot, value: 'target.trade_id' })})`);
    }
    const rows = [...receipt.jobs, ...(trade ? [trade.job] : [])];
    const rowsOut = await preparedAutocommit<{
      fresh: boolean;
      trade_id: string | null;
      job_ids: (string | null)[];
      trade_job_id: string | null;
    }>(
      this.dataSource,
      `WITH ${ctes.join(', ')}
         SELECT EXISTS (SELECT 1 FROM event) AS fresh,
                ${trade ? '(SELECT trade_id FROM trade)::text' : 'NULL::text'} AS trade_id,
                ARRAY[${receipt.jobs.map((_, i) => `(SELECT id FROM job_${i})::text`).join(', ')}]::text[] AS job_ids,
                ${trade ? '(SELECT id FROM trade_job)::text' : 'NULL::text'} AS trade_job_id,
                CASE WHEN EXISTS (SELECT 1 FROM event) THEN ${rows.length > 0 ? outboxNotifySql(rows, params) : 'NULL'} END AS notified`,
      params.values,
    );
    const row = rowsOut[0];
    return {
      fresh: row.fresh,
      tradeId: row.trade_id,
      jobIds: row.fresh ? row.job_ids.map((id) => id!) : [],
      tradeJobId: row.trade_job_id,
    };
  }
}
