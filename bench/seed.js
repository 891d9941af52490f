const { Client } = require('pg');

/**
 * Seeds active offers straight into the database: `makers` bench counterparties (default 1,000, each with a
 * reputation row), `suspended` of them suspended (their offers must not be listed to others), and `count`
 * offers spread over them: a mix of fixed rates and floating premiums within the rate guard, both payment
 * methods, varied ranges. Many makers, because a listing that reads `users` by scan slows down as users grow.
 */
async function seedOffers(databaseUrl, count, { makers = 1000, suspended = Math.floor(makers / 100) } = {}) {
  if (count <= 0) return 0;
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const made = await db.query(
      `INSERT INTO users (email, password_hash, display_name, role, wechat_id_ciphertext, wechat_id_key_id, wechat_id_index,
                          paypal_email_ciphertext, paypal_email_key_id, paypal_email_index, suspended_at)
       SELECT 'bench-maker-' || gen_random_uuid() || '@example.com', 'x', 'Bench maker ' || n, 'counterparty', 'x', 'dev1',
              md5(random()::text), 'x', 'dev1', md5(random()::text), CASE WHEN n <= $2 THEN now() END
         FROM generate_series(1, $1::int) AS n
       RETURNING id`,
      [makers, suspended],
    );
    const makerIds = made.rows.map((r) => r.id);
    await db.query(`INSERT INTO user_reputation (user_id) SELECT unnest($1::uuid[])`, [makerIds]);
    await db.query(
      `INSERT INTO offers (counterparty_id, min_cny, max_cny, total_cny, available_cny, price_type, fixed_rate, premium_bps, payment_methods)
       SELECT ($1::uuid[])[1 + i % cardinality($1::uuid[])], 10000 * (1 + i % 20), 10000 * (1 + i % 20) + 100000 * (1 + i % 50), 10000000, 10000000,
              CASE WHEN i % 2 = 0 THEN 'fixed' ELSE 'floating' END,
              CASE WHEN i % 2 = 0 THEN 69000 + (i::bigint * 7919) % 6800 END,
              CASE WHEN i % 2 = 1 THEN (-450 + (i::bigint * 104729) % 900)::int END,
              CASE i % 3 WHEN 0 THEN ARRAY['paypal'] WHEN 1 THEN ARRAY['bank_transfer'] ELSE ARRAY['paypal', 'bank_transfer'] END
         FROM generate_series(1, $2::int) AS i`,
      [makerIds, count],
    );
    // Vacuumed now, so autovacuum does not start on the new rows in the middle of a measurement.
    await db.query('VACUUM ANALYZE users');
    await db.query('VACUUM ANALYZE user_reputation');
    await db.query('VACUUM ANALYZE offers');
    return count;
  } finally {
    await db.end();
  }
}

module.exports = { seedOffers };
