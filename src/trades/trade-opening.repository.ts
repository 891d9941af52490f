import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, QueryFailedError } from 'typeorm';
import { preparedAutocommit, preparedRead, SqlParams } from '../common/database/query';
import { eventInsertCtes } from '../events/events.repository';
import type { NewEvent } from '../events/events.repository';
import { reserveSql, SourceAsDecided } from '../market/market.repository';
import { NewOutboxRow, outboxInsertSql, outboxNotifySql } from '../outbox/outbox.repository';
import type { ClaimRef } from '../idempotency/idempotency.repository';
import { tradeEventInsertSql } from './timeline.repository';
import { snapshotValues, usageSql } from './trades.repository';
import { OPENING_SIDE_WRITES, PARTY_COLUMNS, PartyRow, TRADE_COLUMNS, TradeRow, toParty, toTrade } from './trade-rows';
import type { NewTrade, PartyForTrade, PartyUsage, Trade, TradeEvent } from './trade.types';

/** A party as a trade's decision read it, and the most it may have counted before this trade (its tier's limits less the trade). */
export interface PartyAsDecided {
  party: PartyForTrade;
  maxLiveTrades: number;
  maxVolumeTodayCents: bigint;
}

/**
 * What `openAtOnce` writes besides the trade: its timeline's first event, its funding deadline's job (null when the
 * deadline lies past the horizon: the sweeper queues it, `queues/sweep-horizon.ts`) and its `trade.created` event.
 */
export interface OpeningWrites {
  timeline: Omit<TradeEvent, 'at'>;
  deadline: NewOutboxRow | null;
  /** The event whose data is `data` with the trade's times as the statement stored them (`trade.createdAt`, `updatedAt`, `deadlines.fundingBy`). */
  created: { event: Omit<NewEvent, 'data'>; data: Record<string, unknown>; fanOut: NewOutboxRow };
}

export type OpenedAtOnce =
  | { outcome: 'opened'; trade: Trade; deadlineOutboxId: string | null; fanOutOutboxId: string }
  /** Something the decision rested on changed before the locks were taken: nothing was written. */
  | { outcome: 'changed' }
  /** The request's Idempotency-Key claim was taken over by a retry: nothing was written. */
  | { outcome: 'claim_lost' };

/** An ISO-8601 UTC time to the millisecond, as `Date.toISOString` writes the time node-pg reads (both truncate). */
const iso = (column: string) => `to_jsonb(to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;

/**
 * A trade opened in one round trip: the reads it is decided on, without locks, then one statement in autocommit
 * that takes the locks, checks that the decision still stands and writes everything. The statement is the whole
 * transaction, so the source row's lock (the race guard) is held only while PostgreSQL runs it and commits, never
 * while a reply travels to the service and the next statement back.
 */
@Injectable()
export class TradeOpeningRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Both parties and their usage, as committed now, in one snapshot, without locks: what a trade is decided on. */
  async partiesNow(ids: [string, string]): Promise<{ parties: Map<string, PartyForTrade>; usage: Map<string, PartyUsage> }> {
    const rows = await preparedRead<PartyRow & { party_live: number; party_volume: string }>(
      this.dataSource,
      `SELECT ${PARTY_COLUMNS}, ${usageSql('party', 'u.id')} FROM users u WHERE u.id = ANY($1::uuid[])`,
      [ids],
    );
    const parties = new Map<string, PartyForTrade>();
    const usage = new Map<string, PartyUsage>();
    for (const row of rows) {
      parties.set(row.id, toParty(row));
      usage.set(row.id, { liveTrades: row.party_live, volumeTodayCents: BigInt(row.party_volume) });
    }
    return { parties, usage };
  }

  /**
   * Opens a trade as `TradesRepository.openTrade` does (the amount reserved, the trade, its reservation, the day's
   * volume, the first timeline event, the funding deadline's outbox row if it is due within the horizon) plus its
   * `trade.created` event and that event's outbox row, in ONE statement in autocommit, in the lock order: the
   * reservation's UPDATE locks the source row, and takes the amount only if the source is still as decided;
   * `trade_opening_guard` (migration TradeOpeningGuard) then locks both parties in id order, finds them as
   * decided, counts their limits after those locks, and marks the Idempotency-Key claim; the volume rows and, at
   * commit, the live-trade counters follow. Anything found changed rolls the whole statement back. Returns the trade and its outbox rows' ids.
   */
  async openAtOnce(
    trade: NewTrade & { id: string },
    source: SourceAsDecided,
    parties: [PartyAsDecided, PartyAsDecided],
    claim: ClaimRef | null,
    writes: OpeningWrites,
  ): Promise<OpenedAtOnce> {
    const params = new SqlParams();
    const reserve = reserveSql({ kind: source.kind, id: trade.requestId ?? trade.offerId! }, trade.amountCny, params, source);
    const column = <T>(pick: (p: PartyAsDecided) => T) => params.add(parties.map(pick));
    const guard = `trade_opening_guard((SELECT count(*) FROM reserved)::integer, ${column((p) => p.party.id)}::uuid[],
        ${column((p) => p.party.tier)}::integer[],
        ${column((p) => p.party.wechat?.ciphertext ?? null)}::text[], ${column((p) => p.party.wechat?.keyId ?? null)}::text[],
        ${column((p) => p.party.wechat?.index ?? null)}::text[],
        ${column((p) => p.party.paypal?.ciphertext ?? null)}::text[], ${column((p) => p.party.paypal?.keyId ?? null)}::text[],
        ${column((p) => p.party.paypal?.index ?? null)}::text[],
        ${column((p) => p.maxVolumeTodayCents.toString())}::bigint[], ${column((p) => p.maxLiveTrades)}::integer[],
        ${params.add(claim?.ownerId ?? null)}::uuid, ${params.add(claim?.key ?? null)}::text, ${params.add(claim?.claimId ?? null)}::uuid)`;
    const id = params.add(trade.id);
    const createdData = `(SELECT jsonb_set(jsonb_set(jsonb_set(${params.add(JSON.stringify(writes.created.data))}::jsonb,
          '{trade,createdAt}', ${iso('created_at')}), '{trade,updatedAt}', ${iso('updated_at')}),
          '{trade,deadlines,fundingBy}', ${iso('funding_by')}) FROM inserted)`;
    const sql = `WITH reserved AS (${reserve}),
       guard AS (SELECT ${guard} AS passed),
       inserted AS (
         INSERT INTO trades (id, request_id, offer_id, traveler_id, counterparty_id, state, amount_cny, amount_usd, rate, fee_bps, fee_usd, payment_method,
                             traveler_wechat_ciphertext, traveler_wechat_key_id, traveler_wechat_index,
                             counterparty_wechat_ciphertext, counterparty_wechat_key_id, counterparty_wechat_index,
                             counterparty_paypal_ciphertext, counterparty_paypal_key_id, counterparty_paypal_index,
                             funding_by, volume_day)
         VALUES ((SELECT ${id}::uuid FROM guard WHERE passed), ${params.add(trade.requestId)}::uuid, ${params.add(trade.offerId)}::uuid,
                 ${params.add(trade.travelerId)}::uuid, ${params.add(trade.counterpartyId)}::uuid, 'awaiting_funding', ${params.add(trade.amountCny)}::bigint,
                 ${params.add(trade.amountUsd)}::bigint, ${params.add(trade.rate)}::bigint, ${params.add(trade.feeBps)}::integer,
                 ${params.add(trade.feeUsd)}::bigint, ${params.add(trade.paymentMethod)},
                 ${snapshotValues(trade.travelerWechat, params)}, ${snapshotValues(trade.counterpartyWechat, params)},
                 ${snapshotValues(trade.counterpartyPaypal, params)},
                 now() + ${params.add(trade.fundingWindowMs)} * interval '1 millisecond', (now() AT TIME ZONE 'UTC')::date)
         RETURNING *
       ), ${OPENING_SIDE_WRITES}, event AS (${tradeEventInsertSql(id, writes.timeline, params)}),
       ${writes.deadline ? `deadline AS (${outboxInsertSql(writes.deadline, params)}),` : ''}
       ${eventInsertCtes(writes.created.event, createdData, [writes.created.fanOut], params)}
       SELECT ${TRADE_COLUMNS}, ${writes.deadline ? '(SELECT id FROM deadline)::text' : 'NULL'} AS deadline_outbox_id,
              (SELECT id FROM recorded_job_0)::text AS fan_out_outbox_id,
              ${outboxNotifySql(writes.deadline ? [writes.deadline, writes.created.fanOut] : [writes.created.fanOut], params)}
         FROM inserted`;
    let rows: (TradeRow & { deadline_outbox_id: string | null; fan_out_outbox_id: string })[];
    try {
      rows = await preparedAutocommit(this.dataSource, sql, params.values);
    } catch (error) {
      const code = error instanceof QueryFailedError ? (error.driverError as { code?: string }).code : undefined;
      if (code === 'YB001') return { outcome: 'changed' };
      if (code === 'YB002') return { outcome: 'claim_lost' };
      throw error;
    }
    const row = rows[0];
    return { outcome: 'opened', trade: toTrade(row), deadlineOutboxId: row.deadline_outbox_id, fanOutOutboxId: row.fan_out_outbox_id };
  }
}
