const { Client } = require('pg');

/*
 * Historical trades for benchmarks: bulk-loads N ended trades so endpoint figures can be compared with, say,
 * 10,000 and 1,000,000 trades of history in the database.
 *
 * Nothing is invented: each historical trade is a copy of a real trade that went through the API (a template,
 * the newest one of its terminal state), with every row the trade owns: its exchange request, the trade, its
 * reservation, timeline, PayPal funding record, per-trade ledger accounts and ledger transfers (and, if asked,
 * the provider events it received). Copies get new ids, new provider ids, the given users (round-robin) and a
 * created_at spread over the past two years (the newest two days ago, so none counts in today's volume and all are older
 * than what a benchmark creates). The sums the app keeps beside the trades move with them: the platform's
 * sharded ledger accounts, user_reputation and user_daily_volume. The ledger check stays clean.
 *
 * Set-based SQL, one transaction per batch of `batchSize` trades, batches on `connections` sessions at once.
 * Batches write only their own new rows; the shared rows (platform accounts, counters, daily volume) are summed
 * here and written once at the end, so concurrent batches never wait on each other's locks. A load that
 * throws halfway leaves the books unbalanced: drop that database.
 */

// Mirrors PLATFORM_SHARDS and shardOf() in src/ledger/ledger.service.ts: the first byte of the trade id, mod 16.
const PLATFORM_SHARDS = 16;

/** Shares of terminal states; a state with no template in the database gives its share to `completed`. */
const DEFAULT_MIX = { completed: 0.88, expired: 0.05, cancelled: 0.04, refunded: 0.03 };

const DAY_MS = 24 * 60 * 60 * 1000;

// trade_fundings' provider ids (several unique): each copy gets its own, derived from its trade id.
const FUNDING_IDS = [
  'order_id',
  'authorization_id',
  'capture_id',
  'payout_batch_id',
  'payout_item_id',
  'bank_reference',
  'bank_transfer_id',
  'refund_id',
];

const TOUCHED_TABLES = [
  'exchange_requests',
  'trades',
  'trade_reservations',
  'trade_events',
  'trade_fundings',
  'ledger_accounts',
  'ledger_transfers',
  'provider_events',
  'user_daily_volume',
  'user_reputation',
  'users',
];

/**
 * The newest trade of each terminal state that can serve as a template: PayPal, from a request, never
 * disputed nor flagged (those have rows and counters this copy does not follow). `completed` is required.
 */
async function findTemplates(db, mix) {
  const { rows } = await db.query(
    `SELECT DISTINCT ON (t.state) t.id, t.state
       FROM trades t
      WHERE t.state = ANY($1::text[]) AND t.payment_method = 'paypal' AND t.request_id IS NOT NULL
        AND t.dispute_id IS NULL AND NOT t.settlement_failing
        AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.trade_id = t.id)
      ORDER BY t.state, t.created_at DESC`,
    [Object.keys(mix)],
  );
  const byState = new Map(rows.map((r) => [r.state, r.id]));
  if (!byState.has('completed')) {
    throw new Error('seedHistory needs a template: at least one completed PayPal trade made through the API');
  }
  const total = Object.values(mix).reduce((a, b) => a + b, 0);
  const templates = [];
  let missing = 0;
  for (const [state, share] of Object.entries(mix)) {
    if (byState.has(state)) templates.push({ state, id: byState.get(state), share: share / total });
    else missing += share / total;
  }
  templates.find((t) => t.state === 'completed').share += missing;
  let cumulative = 0;
  for (const t of templates) t.cum = cumulative += t.share;
  return templates;
}

/**
 * Session temp tables with the templates' rows, resolved once so a batch joins small tables only:
 *   hist_tpl           the template trades, their fundings' ids and cumulative shares;
 *   hist_tpl_events    their timelines, with the actor's role;
 *   hist_tpl_transfers their ledger transfers, each account named by how a copy finds its own;
 *   hist_tpl_provider  the provider events they received;
 *   hist_tpl_counters  what each added to its parties' reputation and daily volume.
 */
async function prepareSession(db, templates, withProviderEvents, fast) {
  // Bulk-load settings for this session only: a commit lost to a crash is harmless here.
  await db.query(`SET synchronous_commit = off; SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'`);
  if (fast) {
    // As pg_restore --disable-triggers: skip the per-row foreign-key triggers. Every reference is built from
    // rows that exist (the users, the template's, this batch's), and the only user triggers guard UPDATE and
    // DELETE. Needs a superuser; without one the checks just run.
    await db.query(`SET session_replication_role = replica`).catch(() => undefined);
  }
  await db.query(
    `CREATE TEMP TABLE hist_tpl AS
     SELECT u.ord::int AS ord, u.cum, t.*, ${FUNDING_IDS.map((c) => `f.${c} AS f_${c}`).join(', ')}
       FROM unnest($1::uuid[], $2::float8[]) WITH ORDINALITY AS u(id, cum, ord)
       JOIN trades t ON t.id = u.id LEFT JOIN trade_fundings f ON f.trade_id = t.id`,
    [templates.map((t) => t.id), templates.map((t) => t.cum)],
  );
  await db.query(`
    CREATE TEMP TABLE hist_tpl_events AS
    SELECT e.*, CASE e.actor_id WHEN t.traveler_id THEN 'traveler' WHEN t.counterparty_id THEN 'counterparty' END AS actor_role
      FROM hist_tpl t JOIN trade_events e ON e.trade_id = t.id`);
  await db.query(`
    CREATE TEMP TABLE hist_tpl_transfers AS
    SELECT x.*,
           debit.trade_id IS NOT NULL AS debit_own,
           CASE WHEN x.debit_account ~ '#[0-9]+$' THEN regexp_replace(x.debit_account, '[0-9]+$', '') END AS debit_shard_prefix,
           credit.trade_id IS NOT NULL AS credit_own,
           CASE WHEN x.credit_account ~ '#[0-9]+$' THEN regexp_replace(x.credit_account, '[0-9]+$', '') END AS credit_shard_prefix
      FROM hist_tpl t JOIN ledger_transfers x ON x.trade_id = t.id
      JOIN ledger_accounts debit ON debit.id = x.debit_account JOIN ledger_accounts credit ON credit.id = x.credit_account`);
  const foreign = await db.query(`
    SELECT x.trade_id, a.id FROM hist_tpl_transfers x JOIN ledger_accounts a ON a.id IN (x.debit_account, x.credit_account)
     WHERE a.trade_id IS NOT NULL AND a.trade_id <> x.trade_id LIMIT 1`);
  if (foreign.rows.length) throw new Error(`template ${foreign.rows[0].trade_id} moves another trade's account ${foreign.rows[0].id}`);

  // Provider events carry no trade id; the outbox rows of the sandbox deliveries and of the jobs they started
  // name both the event and the trade (by id or by one of its PayPal ids). Found while the outbox keeps them (72 h).
  await db.query(
    `CREATE TEMP TABLE hist_tpl_provider AS
     SELECT DISTINCT t.id AS template_id, pe.*
       FROM hist_tpl t
       JOIN outbox o ON position(t.id::text IN o.job_id) > 0
                     OR EXISTS (SELECT 1 FROM unnest(ARRAY[t.f_order_id, t.f_authorization_id, t.f_capture_id, t.f_payout_batch_id, t.f_payout_item_id]) v
                                 WHERE position(v IN o.payload::text) > 0)
       JOIN provider_events pe ON position(pe.event_id IN o.job_id) > 0
      WHERE $1`,
    [withProviderEvents],
  );

  // Reputation as TradesService counts it: both parties on completion; a failure to whoever ended the trade
  // (the party who cancelled, the traveler on expiry, the counterparty when the payout window passed).
  // Release minutes as TradeTransitionsService.completeRelease measures them (TradesRepository.lockWithParties' times). Volume stays counted only by a completed trade.
  await db.query(`
    CREATE TEMP TABLE hist_tpl_counters AS
    SELECT t.id AS template_id,
           (t.state = 'completed')::int AS completed,
           EXISTS (SELECT 1 FROM hist_tpl_events e WHERE e.trade_id = t.id AND
                   (e.to_state = 'expired' OR (e.to_state = 'cancelled' AND e.actor_kind = 'traveler')))::int AS traveler_failed,
           EXISTS (SELECT 1 FROM hist_tpl_events e WHERE e.trade_id = t.id AND
                   ((e.to_state = 'cancelled' AND e.actor_kind = 'counterparty')
                    OR (e.to_state = 'refunding' AND e.detail->>'reason' = 'payout_window_passed')))::int AS counterparty_failed,
           greatest(0, round(extract(epoch FROM coalesce(t.funded_at, t.created_at) - t.created_at) / 60))::int AS traveler_minutes,
           greatest(0, round(extract(epoch FROM
             coalesce(t.payout_reported_at, (SELECT min(at) FROM hist_tpl_events e WHERE e.trade_id = t.id AND e.to_state = 'releasing'), t.updated_at)
             - coalesce(t.funded_at, t.created_at)) / 60))::int AS counterparty_minutes,
           CASE WHEN t.state = 'completed' THEN t.amount_usd ELSE 0 END AS volume_usd
      FROM hist_tpl t`);
  await db.query(
    `ANALYZE hist_tpl; ANALYZE hist_tpl_events; ANALYZE hist_tpl_transfers; ANALYZE hist_tpl_provider; ANALYZE hist_tpl_counters`,
  );
}

/**
 * What each template moved on accounts that belong to no trade (the sharded platform accounts, suspense),
 * with the checker's own arithmetic (LedgerRepository.accountsDisagreeingWithTransfers).
 */
async function platformMoves(db) {
  const { rows } = await db.query(`
    WITH moves AS (
      SELECT x.trade_id, side.account, side.shard_prefix, side.is_debit,
             CASE WHEN x.phase = 'pending' THEN x.amount WHEN x.phase IN ('post', 'void') THEN -p.amount ELSE 0 END AS pending,
             CASE WHEN x.phase IN ('single', 'post') THEN x.amount ELSE 0 END AS posted
        FROM hist_tpl_transfers x
        LEFT JOIN ledger_transfers p ON p.id = x.pending_id
        CROSS JOIN LATERAL (VALUES (x.debit_account, x.debit_shard_prefix, x.debit_own, true),
                                   (x.credit_account, x.credit_shard_prefix, x.credit_own, false)) AS side(account, shard_prefix, own, is_debit)
       WHERE NOT side.own
    )
    SELECT m.trade_id AS template_id, m.account, m.shard_prefix, a.kind, a.currency,
           coalesce(sum(m.pending) FILTER (WHERE m.is_debit), 0)::text AS debits_pending,
           coalesce(sum(m.pending) FILTER (WHERE NOT m.is_debit), 0)::text AS credits_pending,
           coalesce(sum(m.posted) FILTER (WHERE m.is_debit), 0)::text AS debits_posted,
           coalesce(sum(m.posted) FILTER (WHERE NOT m.is_debit), 0)::text AS credits_posted
      FROM moves m JOIN ledger_accounts a ON a.id = m.account
     GROUP BY 1, 2, 3, 4, 5`);
  return rows;
}

/** `text` with every `old` replaced by its `new`; a NULL old value (no such id on the template) changes nothing. */
function replaceAll(text, pairs) {
  return pairs.reduce((sql, [from, to]) => `replace(${sql}, coalesce(${from}, ''), coalesce(${to}, ''))`, text);
}

/**
 * One row per new trade: n orders them in time; a multiplicative hash of n picks the template (mixing the states
 * evenly through time) and jitters created_at within the trade's slot. New provider ids are derived from the new
 * trade id: PayPal-like 17 characters, WeChat-like digits with the (past) day in them, so none can collide with
 * the ids the mocks hand out today.
 */
const MAP_SQL = `
  CREATE TEMP TABLE hist_map ON COMMIT DROP AS
  SELECT s.n, s.id, gen_random_uuid() AS request_id, t.id AS template_id,
         get_byte(uuid_send(s.id), 0) % ${PLATFORM_SHARDS} AS shard,
         ($3::uuid[])[(1 + s.n % cardinality($3::uuid[]))::int] AS traveler_id,
         ($4::uuid[])[(1 + (s.n + s.n / cardinality($3::uuid[])) % cardinality($4::uuid[]))::int] AS counterparty_id,
         s.created_at, s.created_at - t.created_at AS shift,
         CASE WHEN t.wechat_transfer_id IS NOT NULL THEN
           '10000' || to_char(s.created_at AT TIME ZONE 'UTC', 'YYYYMMDD')
           || lpad((('x' || left(md5(s.id::text || ':wechat'), 15))::bit(60)::bigint % 1000000000000000000)::text, 18, '0')
         END AS wechat_transfer_id,
         ${FUNDING_IDS.map((c) => `CASE WHEN t.f_${c} IS NOT NULL THEN upper(left(md5(s.id::text || ':${c}'), 17)) END AS ${c}`).join(',\n         ')}
    FROM (SELECT n, gen_random_uuid() AS id,
                 to_timestamp(($5::float8 + ($6::float8 - $5::float8) * (n + ((n * 40503 + 12345) % 65536) / 65536.0) / $7::float8) / 1000) AS created_at,
                 ((n * 2654435761) % 4294967296) / 4294967296.0 AS pick
            FROM generate_series($1::bigint, $2::bigint) AS n) s
    JOIN hist_tpl t ON t.ord = 1 + (SELECT count(*) FROM hist_tpl c WHERE c.cum <= s.pick)`;

/** The rows each new trade owns, all from hist_map joined with the template tables. */
const ROW_SQL = [
  // Requests: each copy has its own, long expired by now (the expiry job would have marked it so).
  `INSERT INTO exchange_requests (id, traveler_id, amount_cny, remaining_cny, min_fill_cny, price_type, fixed_rate, premium_bps,
                                  payment_method, status, expires_at, created_at, updated_at)
   SELECT m.request_id, m.traveler_id, r.amount_cny, r.remaining_cny, r.min_fill_cny, r.price_type, r.fixed_rate, r.premium_bps,
          r.payment_method, CASE WHEN r.status IN ('open', 'filled') THEN 'expired' ELSE r.status END,
          r.expires_at + m.shift, r.created_at + m.shift,
          CASE WHEN r.status IN ('open', 'filled') THEN greatest(r.updated_at, r.expires_at) ELSE r.updated_at END + m.shift
     FROM hist_map m JOIN hist_tpl t ON t.id = m.template_id JOIN exchange_requests r ON r.id = t.request_id`,
  // The handles' ciphertexts are the template's, as they were snapshotted (not the given users').
  `INSERT INTO trades (id, request_id, offer_id, traveler_id, counterparty_id, state, amount_cny, amount_usd, rate, fee_bps, fee_usd, payment_method,
                       traveler_wechat_ciphertext, traveler_wechat_key_id, traveler_wechat_index,
                       counterparty_wechat_ciphertext, counterparty_wechat_key_id, counterparty_wechat_index,
                       counterparty_paypal_ciphertext, counterparty_paypal_key_id, counterparty_paypal_index,
                       funding_by, funded_at, payout_reported_at, wechat_transfer_id, split_traveler_usd, split_counterparty_usd,
                       payout_by, verify_by, dispute_id, settlement_failing, volume_day, created_at, updated_at)
   SELECT m.id, m.request_id, NULL, m.traveler_id, m.counterparty_id, t.state, t.amount_cny, t.amount_usd, t.rate, t.fee_bps, t.fee_usd, t.payment_method,
          t.traveler_wechat_ciphertext, t.traveler_wechat_key_id, t.traveler_wechat_index,
          t.counterparty_wechat_ciphertext, t.counterparty_wechat_key_id, t.counterparty_wechat_index,
          t.counterparty_paypal_ciphertext, t.counterparty_paypal_key_id, t.counterparty_paypal_index,
          t.funding_by + m.shift, t.funded_at + m.shift, t.payout_reported_at + m.shift, m.wechat_transfer_id,
          t.split_traveler_usd, t.split_counterparty_usd, t.payout_by + m.shift, t.verify_by + m.shift, NULL, false,
          (m.created_at AT TIME ZONE 'UTC')::date, m.created_at, t.updated_at + m.shift
     FROM hist_map m JOIN hist_tpl t ON t.id = m.template_id`,
  `INSERT INTO trade_reservations (trade_id, request_id, offer_id, amount_cny, returned_at)
   SELECT m.id, m.request_id, NULL, r.amount_cny, r.returned_at + m.shift
     FROM hist_map m JOIN trade_reservations r ON r.trade_id = m.template_id`,
  // The timeline in its order (bigserial ids ascending per trade); actors and the ids in the details follow the copy.
  `INSERT INTO trade_events (trade_id, at, actor_kind, actor_id, type, from_state, to_state, detail)
   SELECT m.id, e.at + m.shift, e.actor_kind,
          CASE e.actor_role WHEN 'traveler' THEN m.traveler_id WHEN 'counterparty' THEN m.counterparty_id ELSE e.actor_id END,
          e.type, e.from_state, e.to_state,
          ${replaceAll('e.detail::text', [
            ['t.request_id::text', 'm.request_id::text'],
            ['t.wechat_transfer_id', 'm.wechat_transfer_id'],
            ...FUNDING_IDS.map((c) => [`t.f_${c}`, `m.${c}`]),
          ])}::jsonb
     FROM hist_map m JOIN hist_tpl t ON t.id = m.template_id JOIN hist_tpl_events e ON e.trade_id = m.template_id
    ORDER BY m.n, e.id`,
  `INSERT INTO trade_fundings (trade_id, provider, ${FUNDING_IDS.join(', ')}, approve_url, created_at, updated_at,
                               payout_attempt, payout_returned, refund_attempt, refund_returned)
   SELECT m.id, f.provider, ${FUNDING_IDS.map((c) => `m.${c}`).join(', ')}, replace(f.approve_url, f.order_id, m.order_id),
          f.created_at + m.shift, f.updated_at + m.shift, f.payout_attempt, f.payout_returned, f.refund_attempt, f.refund_returned
     FROM hist_map m JOIN trade_fundings f ON f.trade_id = m.template_id`,
  // The trade's own accounts (escrow, payables), with the balances of the template's own transfers.
  `INSERT INTO ledger_accounts (id, kind, currency, trade_id, debits_pending, credits_pending, debits_posted, credits_posted)
   SELECT replace(a.id, m.template_id::text, m.id::text), a.kind, a.currency, m.id,
          a.debits_pending, a.credits_pending, a.debits_posted, a.credits_posted
     FROM hist_map m JOIN ledger_accounts a ON a.trade_id = m.template_id`,
  // Transfer ids derived from (new trade, template transfer), so a post or void finds its copied hold. A
  // sharded platform account follows the copy's shard, as LEDGER_ACCOUNTS picks it (the accounts exist: written first).
  `INSERT INTO ledger_transfers (id, trade_id, kind, phase, pending_id, debit_account, credit_account, amount, currency, created_at)
   SELECT md5(m.id::text || x.id::text)::uuid, m.id, x.kind, x.phase, md5(m.id::text || x.pending_id::text)::uuid,
          ${['debit', 'credit']
            .map(
              (side) => `CASE WHEN x.${side}_own THEN replace(x.${side}_account, m.template_id::text, m.id::text)
               WHEN x.${side}_shard_prefix IS NOT NULL THEN x.${side}_shard_prefix || m.shard ELSE x.${side}_account END`,
            )
            .join(',\n          ')},
          x.amount, x.currency, x.created_at + m.shift
     FROM hist_map m JOIN hist_tpl_transfers x ON x.trade_id = m.template_id`,
  // Provider events: new ids in the provider's own shape; the encrypted raw body is the template's as is.
  `INSERT INTO provider_events (provider, event_id, event_type, raw_ciphertext, raw_key_id, received_at)
   SELECT pe.provider,
          CASE WHEN pe.event_id LIKE 'WH-%'
               THEN 'WH-' || upper(left(md5(m.id::text || pe.event_id), 17)) || '-' || upper(right(md5(m.id::text || pe.event_id), 8))
               ELSE md5(m.id::text || pe.event_id)::uuid::text END,
          pe.event_type, pe.raw_ciphertext, pe.raw_key_id, pe.received_at + m.shift
     FROM hist_map m JOIN hist_tpl_provider pe ON pe.template_id = m.template_id`,
];

/** The batch's share of the shared rows, read back to be summed in JS. */
const TALLY_SQL = {
  shards: `SELECT m.template_id, m.shard, count(*)::int AS n FROM hist_map m GROUP BY 1, 2`,
  states: `SELECT t.state, count(*)::int AS n FROM hist_map m JOIN hist_tpl t ON t.id = m.template_id GROUP BY 1`,
  // The day each copy counted in (kept only by a completed one; a given-back day stays at 0).
  volume: `SELECT party.user_id, to_char((m.created_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day, sum(c.volume_usd)::text AS usd
             FROM hist_map m JOIN hist_tpl_counters c ON c.template_id = m.template_id
             CROSS JOIN LATERAL (VALUES (m.traveler_id), (m.counterparty_id)) AS party(user_id)
            GROUP BY 1, 2`,
  // The copy reconciliation would reach last: the greatest (updated_at, id), its cursor's order.
  newest: `SELECT (t.updated_at + m.shift)::text AS updated_at, m.id FROM hist_map m JOIN hist_tpl t ON t.id = m.template_id
            ORDER BY t.updated_at + m.shift DESC, m.id DESC LIMIT 1`,
  counters: `SELECT party.user_id, sum(c.completed)::int AS completed, sum(party.failed)::int AS failed,
                    max(party.minutes) FILTER (WHERE c.completed = 1) AS minutes
               FROM hist_map m JOIN hist_tpl_counters c ON c.template_id = m.template_id
               CROSS JOIN LATERAL (VALUES (m.traveler_id, c.traveler_failed, c.traveler_minutes),
                                          (m.counterparty_id, c.counterparty_failed, c.counterparty_minutes)) AS party(user_id, failed, minutes)
              GROUP BY 1`,
};

/**
 * A trade years old was reconciled when it ended: reconciliation's cursor (trades by `updated_at, id`) passed it
 * long ago. Copies land behind the cursor's place in time, so without this a database's next run would start
 * from the oldest copy, ask the provider mocks about ids they never issued, find every copy a mismatch, flag it
 * `settlementFailing`, and have settlement poll each flagged copy's payout batch until an operator clears it: a
 * load that grows by a batch a run and belongs to no real history. So a finished run is recorded whose cursor is
 * the later of the last run's and the newest copy; the searches' windows are the last run's. Trades the service
 * made itself stay ahead of it: they are newer than any copy (the newest is two days old), or already reconciled.
 */
async function recordReconciled(db, newests, trades) {
  await db.query(
    `WITH last AS (
       SELECT cursor_updated_at, cursor_trade_id, payouts_searched_until, bank_searched_until FROM reconciliation_runs
        WHERE finished_at IS NOT NULL AND error IS NULL ORDER BY id DESC LIMIT 1
     ), cursor AS (
       SELECT at, id FROM (SELECT cursor_updated_at, cursor_trade_id FROM last WHERE cursor_updated_at IS NOT NULL
                           UNION ALL SELECT * FROM unnest($1::timestamptz[], $2::uuid[])) AS c(at, id)
        ORDER BY at DESC, id DESC LIMIT 1
     )
     INSERT INTO reconciliation_runs (trigger, finished_at, checked_trades, cursor_updated_at, cursor_trade_id,
                                      payouts_searched_until, bank_searched_until)
     SELECT 'schedule', now(), $3, c.at, c.id, l.payouts_searched_until, l.bank_searched_until
       FROM cursor c LEFT JOIN last l ON true`,
    [newests.map((n) => n.updated_at), newests.map((n) => n.id), trades],
  );
}

/** Writes the summed shared rows in one transaction: platform accounts, daily volume, reputation, reconciliation's cursor. */
async function applyTallies(db, tally, promoteTiers) {
  await db.query('BEGIN');
  try {
    const accounts = [...tally.accounts.entries()];
    await db.query(
      `INSERT INTO ledger_accounts AS a (id, kind, currency, debits_pending, credits_pending, debits_posted, credits_posted)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
       ON CONFLICT (id) DO UPDATE SET debits_pending = a.debits_pending + excluded.debits_pending,
                                      credits_pending = a.credits_pending + excluded.credits_pending,
                                      debits_posted = a.debits_posted + excluded.debits_posted,
                                      credits_posted = a.credits_posted + excluded.credits_posted`,
      [
        accounts.map(([id]) => id),
        accounts.map(([, a]) => a.kind),
        accounts.map(([, a]) => a.currency),
        ...['debitsPending', 'creditsPending', 'debitsPosted', 'creditsPosted'].map((k) => accounts.map(([, a]) => a[k].toString())),
      ],
    );
    const days = [...tally.volume.entries()].map(([key, usd]) => [...key.split(' '), usd.toString()]);
    await db.query(
      `INSERT INTO user_daily_volume AS v (user_id, day, usd_cents)
       SELECT * FROM unnest($1::uuid[], $2::date[], $3::bigint[])
       ON CONFLICT (user_id, day) DO UPDATE SET usd_cents = v.usd_cents + excluded.usd_cents`,
      [days.map((d) => d[0]), days.map((d) => d[1]), days.map((d) => d[2])],
    );
    // The copies' release minutes go before the users' own (they are older); the last 100 kept, as countCompletedTrade does.
    const users = [...tally.counters.entries()];
    await db.query(
      `INSERT INTO user_reputation AS r (user_id, completed_trades, failed_trades, recent_release_minutes)
       SELECT u.id, u.completed, u.failed, array_fill(u.minutes, ARRAY[least(u.completed, 100)])
         FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[]) AS u(id, completed, failed, minutes)
       ON CONFLICT (user_id) DO UPDATE SET
         completed_trades = r.completed_trades + excluded.completed_trades,
         failed_trades = r.failed_trades + excluded.failed_trades,
         recent_release_minutes = (excluded.recent_release_minutes || r.recent_release_minutes)
           [greatest(1, cardinality(excluded.recent_release_minutes || r.recent_release_minutes) - 99):]`,
      [users.map(([id]) => id), users.map(([, c]) => c.completed), users.map(([, c]) => c.failed), users.map(([, c]) => c.minutes)],
    );
    await recordReconciled(db, tally.newests, tally.trades);
    if (promoteTiers) {
      await db.query(
        `UPDATE users u SET tier = 1, updated_at = now() FROM user_reputation r
          WHERE r.user_id = u.id AND u.id = ANY($1::uuid[]) AND u.tier = 0 AND r.completed_trades >= $2 AND r.disputes_lost = 0`,
        [users.map(([id]) => id), Number(process.env.TIER1_COMPLETED_TRADES ?? 5)],
      );
    }
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Loads `trades` historical trades over `userIds` = { travelers: [uuid], counterparties: [uuid] } (registered
 * users with a WeChat wallet, counterparties with a payout account). Needs a completed PayPal trade made through
 * the API in the database as the template; expired, cancelled and refunded ones are mixed in when there is a
 * template of each (DEFAULT_MIX). Returns { trades, seconds, byState }.
 * Options: batchSize (trades per transaction), connections (batches at once), mix, providerEvents (copy the
 * webhook events each trade received too: about 5 rows of 1.6 kB a trade, 8 GB and several minutes more per
 * million; nothing but webhook de-duplication reads them; default false), promoteTiers (tier 1 for users the
 * counters now entitle, as a completion does; default false, so a benchmark's tier-0 limits stay the ones that
 * apply until the app itself promotes a user on their next completion), spanDays (how far back the oldest goes, default 730),
 * checkReferences (keep the foreign-key triggers on, slower; default false), progress(loaded, total) after each batch.
 */
async function seedHistory(
  databaseUrl,
  {
    trades,
    userIds,
    batchSize = 50000,
    connections = 2,
    mix = DEFAULT_MIX,
    providerEvents = false,
    promoteTiers = false,
    spanDays = 730,
    checkReferences = false,
    progress = () => undefined,
  },
) {
  const travelers = userIds?.travelers ?? [];
  const counterparties = userIds?.counterparties ?? [];
  if (!Number.isInteger(trades) || trades < 0) throw new Error('trades must be a whole number');
  if (!travelers.length || !counterparties.length) throw new Error('userIds needs travelers and counterparties');
  if (travelers.some((id) => counterparties.includes(id))) throw new Error('a user cannot be both a traveler and a counterparty');
  if (trades === 0) return { trades: 0, seconds: 0, byState: {} };

  const startedAt = performance.now();
  const sessions = [];
  try {
    for (let i = 0; i < Math.max(1, Math.min(connections, Math.ceil(trades / batchSize))); i += 1) {
      const db = new Client({ connectionString: databaseUrl.toString() });
      sessions.push(db);
      await db.connect();
    }
    const templates = await findTemplates(sessions[0], mix);
    for (const db of sessions) await prepareSession(db, templates, providerEvents, !checkReferences);
    const moves = await platformMoves(sessions[0]);
    // Every shard of each sharded account the copies touch, so their transfers reference existing rows from
    // the start (balances are added at the end); the app would create them lazily, at zero, just the same.
    await sessions[0].query(
      `INSERT INTO ledger_accounts (id, kind, currency)
       SELECT DISTINCT m.prefix || s, m.kind, m.currency FROM unnest($1::text[], $2::text[], $3::text[]) AS m(prefix, kind, currency),
              generate_series(0, ${PLATFORM_SHARDS - 1}) AS s
       ON CONFLICT (id) DO NOTHING`,
      ['shard_prefix', 'kind', 'currency'].map((k) => moves.filter((m) => m.shard_prefix).map((m) => m[k])),
    );

    const tally = { accounts: new Map(), volume: new Map(), counters: new Map(), byState: {}, trades: 0, newests: [] };
    const count = (batch) => {
      for (const { template_id: template, shard, n } of batch.shards.rows) {
        for (const move of moves.filter((m) => m.template_id === template)) {
          const id = move.shard_prefix ? `${move.shard_prefix}${shard}` : move.account;
          const account = tally.accounts.get(id) ?? {
            kind: move.kind,
            currency: move.currency,
            debitsPending: 0n,
            creditsPending: 0n,
            debitsPosted: 0n,
            creditsPosted: 0n,
          };
          account.debitsPending += BigInt(move.debits_pending) * BigInt(n);
          account.creditsPending += BigInt(move.credits_pending) * BigInt(n);
          account.debitsPosted += BigInt(move.debits_posted) * BigInt(n);
          account.creditsPosted += BigInt(move.credits_posted) * BigInt(n);
          tally.accounts.set(id, account);
        }
      }
      for (const { state, n } of batch.states.rows) tally.byState[state] = (tally.byState[state] ?? 0) + n;
      tally.trades += batch.shards.rows.reduce((sum, row) => sum + row.n, 0);
      // Timestamps as PostgreSQL prints them (microseconds), compared there, with the last run's cursor.
      tally.newests.push(batch.newest.rows[0]);
      for (const { user_id: user, day, usd } of batch.volume.rows) {
        tally.volume.set(`${user} ${day}`, (tally.volume.get(`${user} ${day}`) ?? 0n) + BigInt(usd));
      }
      for (const { user_id: user, completed, failed, minutes } of batch.counters.rows) {
        const c = tally.counters.get(user) ?? { completed: 0, failed: 0, minutes: 0 };
        c.completed += completed;
        c.failed += failed;
        if (minutes !== null) c.minutes = Math.max(c.minutes, minutes);
        tally.counters.set(user, c);
      }
    };

    // The newest copy two days back, so none counts in today's volume or sorts after a benchmark's own trades.
    const newest = Date.now() - 2 * DAY_MS;
    const oldest = newest - spanDays * DAY_MS;
    let next = 0;
    let loaded = 0;
    const loads = await Promise.allSettled(
      sessions.map(async (db) => {
        while (next < trades) {
          const offset = next;
          const size = Math.min(batchSize, trades - offset);
          next += size;
          await db.query('BEGIN');
          try {
            await db.query(MAP_SQL, [offset, offset + size - 1, travelers, counterparties, oldest, newest, trades]);
            for (const sql of ROW_SQL) await db.query(sql);
            const batch = {};
            for (const [name, sql] of Object.entries(TALLY_SQL)) batch[name] = await db.query(sql);
            await db.query('COMMIT');
            count(batch);
            loaded += size;
            progress(loaded, trades);
          } catch (error) {
            await db.query('ROLLBACK').catch(() => undefined);
            next = trades; // the other sessions stop after their current batch
            throw error;
          }
        }
      }),
    );
    const failed = loads.find((l) => l.status === 'rejected');
    if (failed) throw failed.reason;
    await applyTallies(sessions[0], tally, promoteTiers);

    // Fresh statistics and visibility maps, as a database that grew slowly would have (VACUUM runs outside a transaction).
    for (const table of TOUCHED_TABLES) await sessions[0].query(`VACUUM (ANALYZE) ${table}`);
    return { trades, seconds: Number(((performance.now() - startedAt) / 1000).toFixed(1)), byState: tally.byState };
  } finally {
    await Promise.all(sessions.map((db) => db.end().catch(() => undefined)));
  }
}

module.exports = { seedHistory, DEFAULT_MIX };
