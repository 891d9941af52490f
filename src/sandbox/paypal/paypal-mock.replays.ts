import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/** What a mock call answers, and what a replay of it answers. */
export interface MockResponse {
  status: number;
  body?: unknown;
}

/**
 * PayPal-Request-Id: PayPal answers a repeated call with the first one's result. The id is claimed by
 * inserting its replay row in the transaction that does the work, so an identical call arriving meanwhile
 * waits on that row and then answers what the first one stored. Work that fails takes its claim with it
 * (errors are not kept), and the next identical call runs.
 */
@Injectable()
export class PaypalMockReplays {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async once(requestId: string, endpoint: string, work: (manager: EntityManager) => Promise<MockResponse>): Promise<MockResponse> {
    return this.dataSource.transaction(async (manager) => {
      // The status is a placeholder no other transaction sees: the row becomes visible holding the answer.
      const claimed: unknown[] = await manager.query(
        `INSERT INTO paypal_mock_replays (request_id, endpoint, status) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING RETURNING 1`,
        [requestId, endpoint],
      );
      if (claimed.length === 0) {
        const rows: { status: number; body: unknown }[] = await manager.query(
          `SELECT status, body FROM paypal_mock_replays WHERE request_id = $1 AND endpoint = $2`,
          [requestId, endpoint],
        );
        return { status: rows[0].status, body: rows[0].body ?? undefined };
      }
      const result = await work(manager);
      await manager.query(`UPDATE paypal_mock_replays SET status = $3, body = $4 WHERE request_id = $1 AND endpoint = $2`, [
        requestId,
        endpoint,
        result.status,
        result.body === undefined ? null : JSON.stringify(result.body),
      ]);
      return result;
    });
  }

  /** PayPal keeps a request id's answer for a while only: past that, a repeat runs as a new call. Returns how many were kept. */
  async forget(requestId: string): Promise<number> {
    const rows: unknown[] = await this.dataSource.query(`DELETE FROM paypal_mock_replays WHERE request_id = $1 RETURNING 1`, [requestId]);
    return rows.length;
  }
}
