import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ChatRepository } from '../src/chat/chat.repository';
import { databaseConfig, DatabaseConfig } from '../src/config';
import { JOBS, QUEUES } from '../src/queues/queue-names';
import { QueueRegistry } from '../src/queues/queue-registry';
import { registerUser, TestUser } from './support/factories';
import { Api } from './support/http';
import { completedJobResult, eventually, TestApp } from './support/test-app';
import { settling } from './support/settings';
import { useTestApp } from './support/use-test-app';
import { fundTrade, newTrade, NewTrade } from './support/trades';

/**
 * Trade chat through HTTP: the parties post and read, oldest first; outsiders see nothing; operators read only
 * once the trade has had a dispute, each read audited; texts encrypted at rest and immutable but for erasure;
 * closed MESSAGE_WINDOW_AFTER_END_MS after the end, erased MESSAGE_RETENTION_MS after it, and with a deleted
 * sender's account; in the sender's export.
 */
describe('Trade chat (HTTP)', () => {
  const WINDOW_MS = 2000;
  const PER_MINUTE = 25;
  const suite = useTestApp(
    {
      ...settling,
      MESSAGE_WINDOW_AFTER_END_MS: String(WINDOW_MS),
      MESSAGE_RETENTION_MS: '4000',
      // The sweep runs when a test asks for it.
      MESSAGE_RETENTION_SWEEP_EVERY_MS: '3600000',
      MESSAGES_PER_MINUTE: String(PER_MINUTE),
    },
    { reference: '7.2400', operator: true },
  );
  let test: TestApp, api: Api, db: Client, operator: TestUser;

  beforeAll(() => {
    ({ test, api, db, operator } = suite);
  });

  const post = (tradeId: string, user: TestUser, text: unknown) =>
    api('POST', `/v1/trades/${tradeId}/messages`, { token: user.token, body: { text } });
  const read = (tradeId: string, user: TestUser, query = '') => api('GET', `/v1/trades/${tradeId}/messages${query}`, { token: user.token });
  const cancel = async (t: NewTrade) =>
    expect((await api('POST', `/v1/trades/${t.trade.id}/cancel`, { token: t.traveler.token })).status).toBe(200);
  const eraseNow = async () => {
    const queue = test.app.get(QueueRegistry).get(QUEUES.housekeeping);
    const jobId = `erase-messages-${randomUUID()}`;
    await queue.add(JOBS.housekeeping.eraseMessageTexts, {}, { jobId });
    return (await completedJobResult(queue, jobId)) as { deleted: number };
  };
  const rowsOf = async (tradeId: string) =>
    (await db.query(`SELECT to_jsonb(m) AS row FROM trade_messages m WHERE trade_id = $1 ORDER BY seq`, [tradeId])).rows.map((r) => r.row);

  it('lets both parties chat: 201 with the message, listed oldest first, page by page', async () => {
    const t = await newTrade(api);
    const first = await post(t.trade.id, t.traveler, 'Hi, I will fund within the hour.');
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.any(String),
      tradeId: t.trade.id,
      at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      sender: { kind: 'traveler', id: t.traveler.id },
      text: 'Hi, I will fund within the hour.',
      erased: false,
    });
    const texts = ['Hi, I will fund within the hour.'];
    for (let i = 1; i <= 4; i += 1) {
      const [who, kind] = i % 2 === 1 ? [t.counterparty, 'counterparty'] : [t.traveler, 'traveler'];
      const sent = await post(t.trade.id, who, `message ${i}\nwith a second line`);
      expect(sent.status).toBe(201);
      expect(sent.body.sender).toEqual({ kind, id: who.id });
      texts.push(`message ${i}\nwith a second line`);
    }

    for (const viewer of [t.traveler, t.counterparty]) {
      const all = await read(t.trade.id, viewer);
      expect(all.status).toBe(200);
      expect(all.body.nextCursor).toBeNull();
      expect(all.body.data.map((m: { text: string }) => m.text)).toEqual(texts);
      expect(all.body.data[0]).toEqual(first.body);
    }
    // Two at a time: every message once, in order.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { data: { text: string }[]; nextCursor: string | null } } = await read(
        t.trade.id,
        t.counterparty,
        `?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      paged.push(...page.body.data.map((m) => m.text));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(texts);
    // A cursor the service did not issue.
    const forged = await read(t.trade.id, t.traveler, `?cursor=${Buffer.from('{"m":"x"}').toString('base64url')}`);
    expect([forged.status, forged.body.code]).toEqual([400, 'validation_failed']);
  });

  it('shows outsiders nothing (404 on both routes), and keeps operators from posting (403)', async () => {
    const t = await newTrade(api);
    expect((await post(t.trade.id, t.traveler, 'only for us')).status).toBe(201);
    const outsiders = [await registerUser(api, 'traveler'), await registerUser(api, 'counterparty')];
    for (const outsider of outsiders) {
      const posted = await post(t.trade.id, outsider, 'let me in');
      expect([posted.status, posted.body.code]).toEqual([404, 'not_found']);
      const listed = await read(t.trade.id, outsider);
      expect([listed.status, listed.body.code]).toEqual([404, 'not_found']);
    }
    const unknown = await post(randomUUID(), t.traveler, 'anyone?');
    expect([unknown.status, unknown.body.code]).toEqual([404, 'not_found']);
    const byOperator = await post(t.trade.id, operator, 'operators do not chat');
    expect([byOperator.status, byOperator.body.code]).toEqual([403, 'forbidden']);
    expect(await rowsOf(t.trade.id)).toHaveLength(1);
  });

  it('lets an operator read only once the trade had a dispute, and audits each read', async () => {
    const t = await newTrade(api);
    expect((await post(t.trade.id, t.counterparty, 'Funded yet?')).status).toBe(201);
    const before = await read(t.trade.id, operator);
    expect([before.status, before.body.code]).toEqual([404, 'not_found']);

    await fundTrade(api, t);
    expect((await post(t.trade.id, t.traveler, 'Funded. Please send the RMB.')).status).toBe(201);
    const opened = await api('POST', `/v1/trades/${t.trade.id}/disputes`, {
      token: t.traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Nothing arrived.' },
    });
    expect(opened.status).toBe(201);
    // Parties keep chatting while disputed.
    expect((await post(t.trade.id, t.counterparty, 'I sent it an hour ago.')).status).toBe(201);

    const first = await read(t.trade.id, operator, '?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.data.map((m: { text: string }) => m.text)).toEqual(['Funded yet?', 'Funded. Please send the RMB.']);
    const second = await read(t.trade.id, operator, `?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.data.map((m: { text: string }) => m.text)).toEqual(['I sent it an hour ago.']);

    const audit = await api('GET', `/v1/admin/audit?tradeId=${t.trade.id}&limit=100`, { token: operator.token });
    expect(audit.status).toBe(200);
    const reads = audit.body.data.filter((e: { action: string }) => e.action === 'trade.read_messages');
    expect(reads).toEqual([
      expect.objectContaining({ operatorId: operator.id, tradeId: t.trade.id, detail: expect.objectContaining({ messages: 2 }) }),
      expect.objectContaining({ operatorId: operator.id, tradeId: t.trade.id, detail: expect.objectContaining({ messages: 1 }) }),
    ]);
    // The audit names how many, never what they say.
    expect(JSON.stringify(audit.body)).not.toContain('Funded');
    // The operator still may not post.
    expect((await post(t.trade.id, operator, 'noted')).status).toBe(403);
  });

  it('stores texts encrypted, never in clear, and refuses any change but erasure and re-encryption', async () => {
    const t = await newTrade(api);
    const secret = `my WeChat is ${randomUUID()}`;
    const sent = await post(t.trade.id, t.traveler, secret);
    expect(sent.status).toBe(201);
    const [row] = await rowsOf(t.trade.id);
    expect(row.text_ciphertext).toEqual(expect.any(String));
    expect(row.text_key_id).toEqual(expect.any(String));
    expect(row.erased_at).toBeNull();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(Buffer.from(row.text_ciphertext, 'base64').toString('latin1')).not.toContain('WeChat');

    const refused = async (sql: string) => expect(db.query(sql, [sent.body.id])).rejects.toThrow(/immutable/);
    await refused(`UPDATE trade_messages SET text_ciphertext = 'AAAA' WHERE id = $1`);
    await refused(
      `UPDATE trade_messages SET sender_kind = 'counterparty', sender_id = (SELECT counterparty_id FROM trades t WHERE t.id = trade_id) WHERE id = $1`,
    );
    await refused(`DELETE FROM trade_messages WHERE id = $1`);
    // Erasure while the trade is live and its sender is not deleted.
    await refused(`UPDATE trade_messages SET text_ciphertext = NULL, text_key_id = NULL, erased_at = now() WHERE id = $1`);
    // A message from someone who is not the trade's party of that kind.
    await expect(
      db.query(
        `INSERT INTO trade_messages (trade_id, sender_kind, sender_id, text_ciphertext, text_key_id)
         SELECT trade_id, 'counterparty', sender_id, text_ciphertext, text_key_id FROM trade_messages WHERE id = $1`,
        [sent.body.id],
      ),
    ).rejects.toThrow(/party/);
    expect((await read(t.trade.id, t.counterparty)).body.data.map((m: { text: string }) => m.text)).toEqual([secret]);
  });

  it('takes 1 to 2000 characters, not blank and without control characters (400 otherwise)', async () => {
    const t = await newTrade(api);
    const refuse = async (body: unknown, code: string, field = 'text') => {
      const response = await api('POST', `/v1/trades/${t.trade.id}/messages`, { token: t.traveler.token, body });
      expect([response.status, response.body.code, response.body.errors?.[0]]).toEqual([
        400,
        'validation_failed',
        expect.objectContaining({ field, code }),
      ]);
    };
    await refuse({}, 'required');
    await refuse({ text: 42 }, 'not_a_string');
    await refuse({ text: '' }, 'too_short');
    await refuse({ text: 'x'.repeat(2001) }, 'too_long');
    // Code points, as stored: "❤️" is two (the heart and a variation selector), 2000 of them 4000.
    await refuse({ text: '❤️'.repeat(2000) }, 'too_long');
    await refuse({ text: '😀'.repeat(2001) }, 'too_long');
    await refuse({ text: '  \n\t ' }, 'blank');
    await refuse({ text: 'ring\u0007ring' }, 'control_characters');
    await refuse({ text: 'hidden\u009btext' }, 'control_characters');
    await refuse({ text: 'hi', sender: 'someone else' }, 'unknown_field', 'sender');
    // NUL never reaches validation: the body is refused as JSON PostgreSQL cannot hold.
    const nul = await api('POST', `/v1/trades/${t.trade.id}/messages`, {
      token: t.traveler.token,
      rawBody: '{"text":"a\\u0000b"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(nul.status).toBe(400);
    expect(await rowsOf(t.trade.id)).toHaveLength(0);

    // The bounds themselves; characters are code points (an emoji is one).
    for (const text of ['x', 'y'.repeat(2000), '😀'.repeat(2000), 'tab\tand\r\nline breaks']) {
      const sent = await post(t.trade.id, t.traveler, text);
      expect(sent.status).toBe(201);
      expect(sent.body.text).toBe(text);
    }
  });

  it('closes the chat MESSAGE_WINDOW_AFTER_END_MS after the trade ended (409 trade_closed)', async () => {
    const t = await newTrade(api);
    expect((await post(t.trade.id, t.traveler, 'before the end')).status).toBe(201);
    await cancel(t);
    // (That it takes messages right after the end is shown with a longer window below: no race with the clock here.)
    const closed = await eventually(
      async () => {
        const response = await post(t.trade.id, t.traveler, 'too late?');
        return response.status === 201 ? undefined : response;
        // Slowly: each probe that gets through counts toward the sender's per-minute limit.
      },
      WINDOW_MS + 8000,
      400,
    );
    expect([closed.status, closed.body.code]).toEqual([409, 'trade_closed']);
    // Posted at most within the window (the probes that got through are in it), and still readable.
    const listed = await read(t.trade.id, t.counterparty, '?limit=100');
    expect(listed.status).toBe(200);
    expect(listed.body.data[0].text).toBe('before the end');
  });

  it('erases texts once MESSAGE_RETENTION_MS after the trade ended passed (text null, erased true), idempotently, and keeps live ones', async () => {
    const ended = await newTrade(api);
    const live = await newTrade(api);
    expect((await post(ended.trade.id, ended.traveler, 'about the ended trade')).status).toBe(201);
    expect((await post(ended.trade.id, ended.counterparty, 'noted')).status).toBe(201);
    expect((await post(live.trade.id, live.traveler, 'about the live trade')).status).toBe(201);
    await cancel(ended);

    // (That the sweep leaves texts alone before the retention passed is shown with a longer one below.)
    await eventually(async () => {
      await eraseNow();
      return (await rowsOf(ended.trade.id)).every((row) => row.erased_at !== null);
    }, 15000);
    const erased = await read(ended.trade.id, ended.counterparty);
    expect(erased.body.data).toEqual([
      expect.objectContaining({ sender: { kind: 'traveler', id: ended.traveler.id }, text: null, erased: true }),
      expect.objectContaining({ sender: { kind: 'counterparty', id: ended.counterparty.id }, text: null, erased: true }),
    ]);
    for (const row of await rowsOf(ended.trade.id)) expect([row.text_ciphertext, row.text_key_id]).toEqual([null, null]);
    // Running again changes nothing; the live trade's text stays.
    const erasedAt = (await rowsOf(ended.trade.id)).map((row) => row.erased_at);
    await eraseNow();
    expect((await rowsOf(ended.trade.id)).map((row) => row.erased_at)).toEqual(erasedAt);
    expect((await read(live.trade.id, live.traveler)).body.data).toEqual([
      expect.objectContaining({ text: 'about the live trade', erased: false }),
    ]);
    // An erased message can change no more.
    await expect(db.query(`UPDATE trade_messages SET erased_at = now() WHERE trade_id = $1`, [ended.trade.id])).rejects.toThrow(
      /immutable/,
    );
  });

  it("erases a deleted account's message texts, keeps the other party's, and exports only the caller's own", async () => {
    const t = await newTrade(api);
    expect((await post(t.trade.id, t.traveler, 'traveler speaking')).status).toBe(201);
    expect((await post(t.trade.id, t.counterparty, 'counterparty speaking')).status).toBe(201);
    expect((await post(t.trade.id, t.traveler, 'traveler again')).status).toBe(201);

    const exported = await api('GET', '/v1/me/export', { token: t.traveler.token });
    expect(exported.status).toBe(200);
    expect(exported.body.messages).toEqual([
      expect.objectContaining({
        tradeId: t.trade.id,
        sender: { kind: 'traveler', id: t.traveler.id },
        text: 'traveler speaking',
        erased: false,
      }),
      expect.objectContaining({
        tradeId: t.trade.id,
        sender: { kind: 'traveler', id: t.traveler.id },
        text: 'traveler again',
        erased: false,
      }),
    ]);
    expect(JSON.stringify(exported.body)).not.toContain('counterparty speaking');
    const theirs = await api('GET', '/v1/me/export', { token: t.counterparty.token });
    expect(theirs.body.messages.map((m: { text: string }) => m.text)).toEqual(['counterparty speaking']);

    await cancel(t);
    const deleted = await api('DELETE', '/v1/me', { token: t.traveler.token, body: { password: t.traveler.password } });
    expect(deleted.status).toBe(200);
    const listed = await read(t.trade.id, t.counterparty);
    expect(listed.body.data).toEqual([
      expect.objectContaining({ sender: { kind: 'traveler', id: t.traveler.id }, text: null, erased: true }),
      expect.objectContaining({ sender: { kind: 'counterparty', id: t.counterparty.id }, text: 'counterparty speaking', erased: false }),
      expect.objectContaining({ sender: { kind: 'traveler', id: t.traveler.id }, text: null, erased: true }),
    ]);
    const rows = await rowsOf(t.trade.id);
    expect(rows.filter((row) => row.sender_id === t.traveler.id).map((row) => row.text_ciphertext)).toEqual([null, null]);
  });

  it(`limits posting to MESSAGES_PER_MINUTE per user (429 rate_limited)`, async () => {
    const t = await newTrade(api);
    for (let i = 0; i < PER_MINUTE; i += 1) expect((await post(t.trade.id, t.traveler, `n${i}`)).status).toBe(201);
    const limited = await post(t.trade.id, t.traveler, 'one too many');
    expect([limited.status, limited.body.code]).toEqual([429, 'rate_limited']);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    // The other party is not limited by it.
    expect((await post(t.trade.id, t.counterparty, 'slow down')).status).toBe(201);
  });

  it('holds MESSAGES_PER_MINUTE against posts sent all at once, more than the pool has connections: exactly that many stored, the rest 429', async () => {
    const t = await newTrade(api);
    const burst = Math.max(2 * PER_MINUTE, 3 * test.app.get<DatabaseConfig>(databaseConfig.KEY).poolSize);
    const sent = await Promise.all(Array.from({ length: burst }, (_, i) => post(t.trade.id, t.traveler, `burst ${i}`)));
    const statuses = sent.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(PER_MINUTE);
    expect(statuses.filter((s) => s !== 201)).toEqual(Array(burst - PER_MINUTE).fill(429));
    expect(await rowsOf(t.trade.id)).toHaveLength(PER_MINUTE);
  });

  it('lets an operator read a disputed trade after the dispute is resolved, audited; the parties still read it', async () => {
    const t = await newTrade(api);
    await fundTrade(api, t);
    expect((await post(t.trade.id, t.traveler, 'Where is the RMB?')).status).toBe(201);
    const opened = await api('POST', `/v1/trades/${t.trade.id}/disputes`, {
      token: t.traveler.token,
      body: { reason: 'rmb_not_received', statement: 'Nothing arrived.' },
    });
    expect(opened.status).toBe(201);
    const resolved = await api('POST', `/v1/admin/disputes/${opened.body.id}/resolve`, {
      token: operator.token,
      body: { outcome: 'refund', note: 'No proof of payment.' },
    });
    expect(resolved.status).toBe(200);
    await eventually(
      async () => (await api('GET', `/v1/trades/${t.trade.id}`, { token: t.traveler.token })).body.state === 'refunded',
      15000,
    );

    const listed = await read(t.trade.id, operator);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((m: { text: string }) => m.text)).toEqual(['Where is the RMB?']);
    const audit = await api('GET', `/v1/admin/audit?tradeId=${t.trade.id}&limit=100`, { token: operator.token });
    expect(audit.body.data.filter((e: { action: string }) => e.action === 'trade.read_messages')).toEqual([
      expect.objectContaining({ operatorId: operator.id, detail: expect.objectContaining({ messages: 1 }) }),
    ]);
    expect((await read(t.trade.id, t.counterparty)).status).toBe(200);
  });

  it('replays a post sent again with its Idempotency-Key: the first response, one message, no text in clear in the stored response', async () => {
    const t = await newTrade(api);
    const secret = `meet at gate ${randomUUID()}`;
    const headers = { 'idempotency-key': `chat-${randomUUID()}` };
    const send = () => api('POST', `/v1/trades/${t.trade.id}/messages`, { token: t.traveler.token, body: { text: secret }, headers });
    const first = await send();
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await send();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await rowsOf(t.trade.id)).toHaveLength(1);
    const stored = await db.query(`SELECT row_to_json(i)::text AS j FROM idempotency_keys i WHERE owner_id = $1`, [t.traveler.id]);
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0].j).not.toContain(secret);
    expect(stored.rows[0].j).not.toContain('meet at gate');
  });
});

/** What needs the trade to be well inside its window, or its texts well inside their retention: no race with the clock. */
describe('Trade chat with a long window (HTTP)', () => {
  const suite = useTestApp(
    {
      ...settling,
      MESSAGE_WINDOW_AFTER_END_MS: String(10 * 60 * 1000),
      MESSAGE_RETENTION_MS: String(20 * 60 * 1000),
      MESSAGE_RETENTION_SWEEP_EVERY_MS: '3600000',
    },
    { reference: '7.2400', operator: true },
  );
  let test: TestApp, api: Api, db: Client, operator: TestUser;

  beforeAll(() => {
    ({ test, api, db, operator } = suite);
  });

  const post = (tradeId: string, user: TestUser, text: unknown) =>
    api('POST', `/v1/trades/${tradeId}/messages`, { token: user.token, body: { text } });
  const read = (tradeId: string, user: TestUser, query = '') => api('GET', `/v1/trades/${tradeId}/messages${query}`, { token: user.token });
  const cancel = async (t: NewTrade) =>
    expect((await api('POST', `/v1/trades/${t.trade.id}/cancel`, { token: t.traveler.token })).status).toBe(200);

  it('lets a suspended party chat on a live trade only', async () => {
    const live = await newTrade(api);
    const ended = await newTrade(api);
    await cancel(ended);
    const suspend = async (user: TestUser, on: boolean) =>
      expect((await api('POST', `/v1/admin/users/${user.id}/${on ? 'suspend' : 'unsuspend'}`, { token: operator.token })).status).toBe(200);
    await suspend(live.counterparty, true);
    await suspend(ended.counterparty, true);
    try {
      expect((await post(live.trade.id, live.counterparty, 'still here')).status).toBe(201);
      const refused = await post(ended.trade.id, ended.counterparty, 'one more thing');
      expect([refused.status, refused.body.code]).toEqual([403, 'account_suspended']);
      expect((await read(ended.trade.id, ended.counterparty)).status).toBe(200);
      // The other party, not suspended, still may within the window; a message right after the end too.
      expect((await post(ended.trade.id, ended.traveler, 'bye')).status).toBe(201);
    } finally {
      await suspend(live.counterparty, false);
      await suspend(ended.counterparty, false);
    }
  });

  it('takes messages after the end, within the window, and keeps their texts until the retention passed', async () => {
    const t = await newTrade(api);
    expect((await post(t.trade.id, t.traveler, 'before the end')).status).toBe(201);
    await cancel(t);
    expect((await post(t.trade.id, t.counterparty, 'right after the end')).status).toBe(201);
    const queue = test.app.get(QueueRegistry).get(QUEUES.housekeeping);
    const jobId = `erase-messages-${randomUUID()}`;
    await queue.add(JOBS.housekeeping.eraseMessageTexts, {}, { jobId });
    await completedJobResult(queue, jobId);
    expect((await read(t.trade.id, t.traveler)).body.data).toEqual([
      expect.objectContaining({ text: 'before the end', erased: false }),
      expect.objectContaining({ text: 'right after the end', erased: false }),
    ]);
    const rows = await db.query(`SELECT count(*)::int AS n FROM trade_messages WHERE trade_id = $1 AND erased_at IS NULL`, [t.trade.id]);
    expect(rows.rows[0].n).toBe(2);
  });

  it('refuses, in the insert itself, a suspended sender on a trade that ended, whatever state was read before', async () => {
    const t = await newTrade(api);
    await cancel(t);
    const repository = test.app.get(ChatRepository);
    const insert = (suspended: boolean) =>
      test.app.get(DataSource).transaction((manager) =>
        repository.insert(manager, {
          tradeId: t.trade.id,
          sender: { kind: 'counterparty', id: t.counterparty.id, suspended },
          text: 'sent as if the trade were live',
          windowAfterEndMs: 10 * 60 * 1000,
        }),
      );
    expect(await insert(true)).toEqual({ refused: 'account_suspended' });
    expect(await insert(false)).toEqual({ stored: expect.objectContaining({ text: 'sent as if the trade were live' }) });
  });

  it("dates a message by its insert, not its transaction's start (which may precede a wait for the sender's locks)", async () => {
    const t = await newTrade(api);
    const repository = test.app.get(ChatRepository);
    const { began, result } = await test.app.get(DataSource).transaction(async (manager) => {
      const [{ began }] = await manager.query(`SELECT now() AS began`);
      await manager.query(`SELECT pg_sleep(0.05)`);
      const result = await repository.insert(manager, {
        tradeId: t.trade.id,
        sender: { kind: 'traveler', id: t.traveler.id, suspended: false },
        text: 'later than the transaction began',
        windowAfterEndMs: 10 * 60 * 1000,
      });
      return { began: began as Date, result };
    });
    expect('stored' in result && result.stored.createdAt.getTime()).toBeGreaterThan(began.getTime());
  });
});
