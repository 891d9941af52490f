import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { storedField, type EncryptedField } from '../common/crypto/field-encryption';
import { changedRows, returningRows } from '../common/database/query';

export interface IdempotencyRecord {
  method: string;
  path: string;
  requestHash: string;
  state: 'in_progress' | 'completed';
  responseStatus: number | null;
  response: EncryptedField | null;
  responseHeaders: Record<string, string> | null;
  /** In progress past its lease after its request committed a change whose response was never stored. */
  responseLost: boolean;
}

export type ClaimResult = { claimed: true; claimId: string } | { claimed: false; existing: IdempotencyRecord };

/** Which claim of which key a request runs under. */
export interface ClaimRef {
  ownerId: string;
  key: string;
  claimId: string;
}

@Injectable()
export class IdempotencyRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Claims the key for this request, with a lease of `leaseMs`. The primary key makes exactly one of any
   * number of concurrent claims win. An expired record is taken over; so is a claim in progress whose lease
   * has passed (its request died) if this is the same request and the claim committed nothing: a claim that
   * committed a change is never taken over, since running it again could move money twice.
   */
  async claim(
    ownerId: string,
    key: string,
    request: { method: string; path: string; requestHash: string },
    ttlHours: number,
    leaseMs: number,
  ): Promise<ClaimResult> {
    // A conflicting row committed after this statement's snapshot is invisible to its SELECT: ask again.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const rows: {
        claim_id: string | null;
        method: string;
        path: string;
        request_hash: string;
        state: 'in_progress' | 'completed';
        response_status: number | null;
        response_ciphertext: string | null;
        response_key_id: string | null;
        response_headers: Record<string, string> | null;
        response_lost: boolean | null;
      }[] = await this.dataSource.query(
        `WITH claimed AS (
           INSERT INTO idempotency_keys (owner_id, key, method, path, request_hash, state, expires_at, lease_until)
           VALUES ($1, $2, $3, $4, $5, 'in_progress', now() + $6 * interval '1 hour', now() + $7 * interval '1 millisecond')
           ON CONFLICT (owner_id, key) DO UPDATE
             SET claim_id = gen_random_uuid(), method = EXCLUDED.method, path = EXCLUDED.path, request_hash = EXCLUDED.request_hash,
                 state = 'in_progress', response_status = NULL, response_ciphertext = NULL, response_key_id = NULL,
                 response_headers = NULL, created_at = now(), expires_at = EXCLUDED.expires_at,
                 lease_until = EXCLUDED.lease_until, effect_committed_at = NULL
             WHERE idempotency_keys.expires_at < now()
                OR (idempotency_keys.state = 'in_progress' AND idempotency_keys.lease_until < now()
                    AND idempotency_keys.effect_committed_at IS NULL
                    AND (idempotency_keys.method, idempotency_keys.path, idempotency_keys.request_hash)
                      = (EXCLUDED.method, EXCLUDED.path, EXCLUDED.request_hash))
           RETURNING claim_id
         )
         SELECT claim_id, NULL AS method, NULL AS path, NULL AS request_hash, NULL AS state, NULL::smallint AS response_status,
                NULL AS response_ciphertext, NULL AS response_key_id, NULL::jsonb AS response_headers, NULL::boolean AS response_lost
           FROM claimed
         UNION ALL
         SELECT NULL, method, path, request_hash, state, response_status, response_ciphertext, response_key_id, response_headers,
                state = 'in_progress' AND lease_until < now() AND effect_committed_at IS NOT NULL
           FROM idempotency_keys WHERE owner_id = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM claimed)`,
        [ownerId, key, request.method, request.path, request.requestHash, ttlHours, leaseMs],
      );
      const row = rows[0];
      if (!row) continue;
      if (row.claim_id) return { claimed: true, claimId: row.claim_id };
      return {
        claimed: false,
        existing: {
          method: row.method,
          path: row.path,
          requestHash: row.request_hash,
          state: row.state,
          responseStatus: row.response_status,
          response: storedField(row.response_ciphertext, row.response_key_id),
          responseHeaders: row.response_headers,
          responseLost: row.response_lost === true,
        },
      };
    }
    throw new Error('Idempotency key could not be claimed or read');
  }

  /**
   * In the transaction of a change the claim's request makes, just before it commits: records that the
   * request changed something, and is false if the claim is no longer this request's (a retry took it over
   * once its lease passed). The row lock it takes orders it with a takeover: whichever commits first wins.
   */
  async markEffect(manager: EntityManager, claim: ClaimRef): Promise<boolean> {
    const rows = await returningRows(
      manager,
      `UPDATE idempotency_keys SET effect_committed_at = coalesce(effect_committed_at, now())
        WHERE owner_id = $1 AND key = $2 AND claim_id = $3 AND state = 'in_progress' RETURNING 1`,
      [claim.ownerId, claim.key, claim.claimId],
    );
    return rows.length === 1;
  }

  /** Stores the answer of this claim's request; false if the claim is no longer this request's (a retry took it over). */
  async complete(
    ownerId: string,
    key: string,
    claimId: string,
    response: { status: number; body: EncryptedField; headers: Record<string, string> },
  ): Promise<boolean> {
    const stored = await changedRows(
      this.dataSource.manager,
      `UPDATE idempotency_keys SET state = 'completed', lease_until = NULL, response_status = $4, response_ciphertext = $5,
              response_key_id = $6, response_headers = $7
        WHERE owner_id = $1 AND key = $2 AND claim_id = $3 AND state = 'in_progress' RETURNING 1`,
      [ownerId, key, claimId, response.status, response.body.ciphertext, response.body.keyId, response.headers],
    );
    return stored === 1;
  }

  /**
   * A 5xx is not kept: this claim's row is deleted so a retry runs again, unless the request had already committed
   * its change (a failure after the commit, such as the read for the answer finding no free connection). That claim
   * stays in progress with its lease ended, so a retry is told the change was made instead of running it twice.
   */
  async release(ownerId: string, key: string, claimId: string): Promise<void> {
    await this.dataSource.query(
      `WITH unchanged AS (
         DELETE FROM idempotency_keys
          WHERE owner_id = $1 AND key = $2 AND claim_id = $3 AND state = 'in_progress' AND effect_committed_at IS NULL
       )
       UPDATE idempotency_keys SET lease_until = now()
        WHERE owner_id = $1 AND key = $2 AND claim_id = $3 AND state = 'in_progress' AND effect_committed_at IS NOT NULL`,
      [ownerId, key, claimId],
    );
  }

  async purgeExpired(limit: number): Promise<number> {
    const result = await this.dataSource.query(
      `DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT $1)`,
      [limit],
    );
    return result[1] ?? 0;
  }
}
