import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { preparedAutocommit, SqlParams } from '../common/database/query';
import { NewOutboxRow, outboxInsertFromSql, outboxNotifySql } from '../outbox/outbox.repository';
import { actorLockSql, ActorStanding } from '../users/users.repository';
import { priceColumns, REQUEST_COLUMNS, RequestRow, toRequest } from './market-rows';
import type { NewRequest } from './market.repository';
import type { ExchangeRequest } from './market.types';

export interface PostedRequest {
  /** The traveler as read under the row lock; null once the account is deleted. */
  maker: ActorStanding | null;
  /** The request as `MarketRepository.findRequest` reads it; null when the maker may not post (nothing was written). */
  request: ExchangeRequest | null;
  expiryOutboxId: string | null;
}

/** A traveler's request posted: the market's one write that is a whole transaction of its own. */
@Injectable()
export class RequestPostingRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Posts a request in ONE statement in autocommit: the traveler's row locked FOR SHARE and read (`actorLockSql`, as
   * every posting does first), the request inserted only if the traveler is not suspended and has a WeChat wallet,
   * its expiry's outbox row with it (`expiry`, when the expiry is within the sweep's horizon), and the request read
   * back with its maker as a listing shows it. The caller refuses with the maker's standing when nothing was written.
   */
  async post(request: NewRequest & { id: string }, expiry: NewOutboxRow | null): Promise<PostedRequest> {
    const params = new SqlParams();
    const travelerId = params.add(request.travelerId);
    const [type, rate, premium] = priceColumns(request.price).map((value) => params.add(value));
    const amount = params.add(request.amountCny.toString());
    const sql = `WITH maker AS MATERIALIZED (${actorLockSql(`${travelerId}::uuid`)}),
       r AS (
         INSERT INTO exchange_requests (id, traveler_id, amount_cny, remaining_cny, min_fill_cny, price_type, fixed_rate, premium_bps, payment_method, expires_at)
         SELECT ${params.add(request.id)}::uuid, ${travelerId}::uuid, ${amount}::bigint, ${amount}::bigint,
                ${params.add(request.minFillCny.toString())}::bigint, ${type}::text, ${rate}::bigint, ${premium}::integer,
                ${params.add(request.paymentMethod)}::text, now() + ${params.add(request.expiresInMs)}::double precision * interval '1 millisecond'
           FROM maker WHERE NOT maker.suspended AND maker."hasWechatWallet"
         RETURNING *
       )${expiry ? `, expiry AS (${outboxInsertFromSql(expiry, params, 'r')})` : ''}
       SELECT m.suspended, m."hasWechatWallet", m."hasPayoutAccount", ${REQUEST_COLUMNS},
              ${expiry ? '(SELECT id FROM expiry)::text' : 'NULL::text'} AS expiry_outbox_id, ${outboxNotifySql(expiry ? [expiry] : [], params)}
         FROM (SELECT 1) one
         LEFT JOIN maker m ON true
         LEFT JOIN (r JOIN users u ON u.id = r.traveler_id LEFT JOIN user_reputation rep ON rep.user_id = r.traveler_id) ON true`;
    const rows = await preparedAutocommit<
      RequestRow & {
        suspended: boolean | null;
        hasWechatWallet: boolean | null;
        hasPayoutAccount: boolean | null;
        expiry_outbox_id: string | null;
      }
    >(this.dataSource, sql, params.values);
    const row = rows[0];
    return {
      maker:
        row.suspended === null
          ? null
          : { suspended: row.suspended, hasWechatWallet: !!row.hasWechatWallet, hasPayoutAccount: !!row.hasPayoutAccount },
      request: row.id ? toRequest(row) : null,
      expiryOutboxId: row.expiry_outbox_id,
    };
  }
}
