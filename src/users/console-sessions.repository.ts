import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';

/** What open makes: 32 random bytes in base64url. Anything else is not looked up. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * The operator console's server-side sessions. The cookie holds an opaque token; only its SHA-256 is stored,
 * so a read of the table does not yield a usable cookie. Deleting a row ends the session at once.
 */
@Injectable()
export class ConsoleSessionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Stores a new session for the user, valid for lifetimeSeconds by the database's clock; returns its token. */
  async open(userId: string, lifetimeSeconds: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.dataSource.query(
      `INSERT INTO console_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))`,
      [hashToken(token), userId, lifetimeSeconds],
    );
    return token;
  }

  /** The user of a live session, or null for an unknown, ended or expired token. */
  async findUserId(token: string): Promise<string | null> {
    if (!TOKEN_PATTERN.test(token)) return null;
    const rows: { user_id: string }[] = await this.dataSource.query(
      `SELECT user_id FROM console_sessions WHERE token_hash = $1 AND expires_at > now()`,
      [hashToken(token)],
    );
    return rows[0]?.user_id ?? null;
  }

  async end(token: string): Promise<void> {
    if (!TOKEN_PATTERN.test(token)) return;
    await this.dataSource.query(`DELETE FROM console_sessions WHERE token_hash = $1`, [hashToken(token)]);
  }

  /** Ends every console session of the user, in the caller's transaction (a suspension ends them with it). */
  async endAllOf(manager: EntityManager, userId: string): Promise<void> {
    await manager.query(`DELETE FROM console_sessions WHERE user_id = $1`, [userId]);
  }

  async purgeExpired(limit: number): Promise<number> {
    const result = await this.dataSource.query(
      `DELETE FROM console_sessions WHERE token_hash IN (SELECT token_hash FROM console_sessions WHERE expires_at < now() LIMIT $1)`,
      [limit],
    );
    return result[1] ?? 0;
  }
}
