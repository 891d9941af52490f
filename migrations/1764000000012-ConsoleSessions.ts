import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The operator console's sessions, server-side so that ending one revokes it: the cookie holds an opaque
 * random token, and only its SHA-256 is stored here.
 */
export class ConsoleSessions1764000000012 implements MigrationInterface {
  name = 'ConsoleSessions1764000000012';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE console_sessions (
        token_hash bytea PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
    // The housekeeping purge deletes expired sessions by this.
    await q.query(`CREATE INDEX console_sessions_expires_at_idx ON console_sessions (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS console_sessions`);
  }
}
