#!/usr/bin/env node
// @ts-check
/*
 * Time from a provider webhook arriving to the trade's new state being visible, over whole trades through
 * the mocks, and what one whole trade costs: provider calls (counted by the mocks) and database commits.
 * Usage: npm run build && node bench/webhook-latency.js [--trades 30] [--method paypal|bank_transfer] [--wechat]
 * With --wechat the RMB leg is real too: the counterparty sends the CNY at the WeChat mock and reports it, and
 * verification releases the trade (instead of the traveler confirming receipt).
 * Polling is set to once a minute, so the webhook is what moves each trade.
 */
const { Client } = require('pg');
const { FieldEncryption, parseKeyring } = require('../dist/src/common/crypto/field-encryption');
const { loadCryptoConfig } = require('../dist/src/config/crypto.config');
const { PROVIDER_EVENT_CONTEXT } = require('../dist/src/payments/funding/provider-webhooks.controller');
const {
  apiClients,
  ok,
  dropDatabase,
  freshDatabaseUrl,
  numberArg,
  percentile,
  registerUser,
  serviceEnv,
  startService,
  stopService,
} = require('./harness');

async function waitFor(check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('timed out');
}

/**
 * For each trade, from the webhook that moved it (the order's approval → funded, the payout item's success →
 * completed) arriving to the new state's timeline event. Event bodies are stored encrypted, so they are read
 * with the service's own keys (the development defaults unless the environment sets others).
 */
async function webhookToVisibleMs(db, tradeIds) {
  const crypto = loadCryptoConfig();
  const encryption = new FieldEncryption({
    encryptionKeys: parseKeyring(crypto.fieldEncryptionKeys),
    activeKeyId: crypto.fieldEncryptionActiveKeyId,
    blindIndexKey: Buffer.from(crypto.blindIndexKey, 'base64'),
  });
  const fundings = (
    await db.query(`SELECT trade_id, order_id, bank_transfer_id, payout_item_id FROM trade_fundings WHERE trade_id = ANY($1::uuid[])`, [
      tradeIds,
    ])
  ).rows;
  const moved = (
    await db.query(
      `SELECT trade_id, to_state, at FROM trade_events WHERE trade_id = ANY($1::uuid[]) AND to_state IN ('funded', 'completed')`,
      [tradeIds],
    )
  ).rows;
  const events = (
    await db.query(
      `SELECT event_type, received_at, raw_ciphertext, raw_key_id FROM provider_events
        WHERE event_type IN ('CHECKOUT.ORDER.APPROVED', 'PAYMENT.PAYOUTS-ITEM.SUCCEEDED', 'transfer.settled')`,
    )
  ).rows;
  const arrivals = new Map();
  for (const event of events) {
    const body = JSON.parse(encryption.decrypt({ ciphertext: event.raw_ciphertext, keyId: event.raw_key_id }, PROVIDER_EVENT_CONTEXT));
    const key =
      event.event_type === 'CHECKOUT.ORDER.APPROVED'
        ? `order:${body.resource?.id}`
        : event.event_type === 'transfer.settled'
          ? `transfer:${body.data?.id}`
          : `item:${body.resource?.payout_item_id}`;
    if (!arrivals.has(key) || arrivals.get(key) > event.received_at) arrivals.set(key, event.received_at);
  }
  const samples = [];
  for (const funding of fundings) {
    const fundedBy = funding.order_id ? `order:${funding.order_id}` : `transfer:${funding.bank_transfer_id}`;
    for (const [state, key] of [
      ['funded', fundedBy],
      ['completed', `item:${funding.payout_item_id}`],
    ]) {
      const arrived = arrivals.get(key);
      const visible = moved.find((m) => m.trade_id === funding.trade_id && m.to_state === state)?.at;
      // Only the moves the webhook made: one the poll made first has its webhook arrive after it.
      if (arrived && visible && visible > arrived) samples.push(visible - arrived);
    }
  }
  return samples;
}

/** @param {{ trades?: number, method?: 'paypal' | 'bank_transfer', wechatLeg?: boolean, port?: number }} [options] */
async function benchWebhookLatency({ trades = 30, method = 'paypal', wechatLeg = false, port = 3902 } = {}) {
  if (!['paypal', 'bank_transfer'].includes(method)) throw new Error('the method is paypal or bank_transfer');
  const baseUrl = `http://127.0.0.1:${port}`;
  const http = apiClients(baseUrl);
  const { api } = http;
  const databaseUrl = freshDatabaseUrl('yb_hooks');
  const env = serviceEnv(databaseUrl, port, {
    PROVIDER_POLL_EVERY_MS: '60000',
    PAYPAL_MOCK_PAYOUT_DELAY_MS: '50',
    BANK_MOCK_SETTLEMENT_DELAY_MS: '50',
    OUTBOX_POLL_INTERVAL_MS: '1000',
  });
  const db = new Client({ connectionString: databaseUrl.toString() });
  let child;
  try {
    ({ child } = await startService(env, baseUrl));
    await db.connect();
    const travelerWallet = `wx_t${Date.now()}`;
    const counterpartyWallet = `wx_c${Date.now()}`;
    const traveler = await registerUser(http, 'traveler', 'traveler', undefined, travelerWallet);
    // Not the traveler's own address: the payer at PayPal would be the payout account, a self-trade.
    const counterparty = await registerUser(http, 'counterparty', 'counterparty', `p-${Date.now()}@example.com`, counterpartyWallet);
    await ok(api.POST('/sandbox/wechat/wallets', { body: { wechatId: travelerWallet, balanceCny: '0.00' } }));
    await ok(api.POST('/sandbox/wechat/wallets', { body: { wechatId: counterpartyWallet, balanceCny: '1000000.00' } }));
    // Non-empty fault settings make the mock count its calls (and change nothing else).
    for (const provider of /** @type {const} */ (['paypal', 'bank', 'wechat']))
      await ok(api.PUT('/sandbox/faults', { body: { provider, seed: 1 } }));
    // A transaction id is assigned only to a transaction that writes (and to this query itself): the difference
    // counts the write transactions of the whole run (on an otherwise idle server).
    const xid = async () => Number((await db.query(`SELECT pg_current_xact_id()::text::bigint AS xid`)).rows[0].xid);
    const xidBefore = await xid();
    const ids = [];
    for (let i = 0; i < trades; i += 1) {
      const request = await ok(
        http
          .as(traveler)
          .POST('/v1/requests', { body: { amountCny: '100.00', price: { type: 'floating', premiumBps: 0 }, paymentMethod: method } }),
      );
      const trade = await ok(http.as(counterparty).POST('/v1/requests/{id}/accept', { params: { path: { id: request.id } }, body: {} }));
      const path = { id: trade.id };
      const funding = await ok(http.as(traveler).POST('/v1/trades/{id}/funding', { params: { path }, body: {} }));
      const { orderId, reference, amountUsd } = funding;
      if (orderId) await ok(api.POST('/sandbox/paypal/orders/{orderId}/approve', { params: { path: { orderId } }, body: {} }));
      else if (reference && amountUsd) await ok(api.POST('/sandbox/bank/incoming', { body: { reference, amountUsd } }));
      else throw new Error(`trade ${trade.id}: no PayPal order and no bank instructions`);
      const stateOf = async () => (await ok(http.as(traveler).GET('/v1/trades/{id}', { params: { path } }))).state;
      await waitFor(async () => (await stateOf()) === 'funded');
      if (wechatLeg) {
        const sent = await ok(
          api.POST('/sandbox/wechat/transfers', {
            body: { fromWechatId: counterpartyWallet, toWechatId: travelerWallet, amountCny: '100.00' },
          }),
        );
        await ok(http.as(counterparty).POST('/v1/trades/{id}/payout', { params: { path }, body: { wechatTransferId: sent.transferId } }));
      } else {
        await ok(http.as(traveler).POST('/v1/trades/{id}/confirm-receipt', { params: { path } }));
      }
      await waitFor(async () => (await stateOf()) === 'completed');
      ids.push(trade.id);
    }
    const writeTransactionsPerTrade = ((await xid()) - xidBefore - 1) / trades;
    const callsOf = async (provider) =>
      Number((await db.query(`SELECT calls FROM sandbox_faults WHERE provider = $1`, [provider])).rows[0].calls);
    const samples = (await webhookToVisibleMs(db, ids)).sort((a, b) => a - b);
    return {
      scenario: `provider webhook → visible state (${method}${wechatLeg ? ', WeChat leg verified' : ''})`,
      trades,
      webhookToVisibleMs: { samples: samples.length, p50: percentile(samples, 50)?.toFixed(1), p99: percentile(samples, 99)?.toFixed(1) },
      method,
      wechatLeg,
      perTrade: {
        paypalCalls: ((await callsOf('paypal')) / trades).toFixed(1),
        bankCalls: ((await callsOf('bank')) / trades).toFixed(1),
        wechatCalls: ((await callsOf('wechat')) / trades).toFixed(1),
        writeTransactions: writeTransactionsPerTrade.toFixed(1),
      },
    };
  } finally {
    await db.end().catch(() => undefined);
    await stopService(child);
    await dropDatabase(databaseUrl);
  }
}

module.exports = { benchWebhookLatency };

if (require.main === module) {
  const methodAt = process.argv.indexOf('--method');
  benchWebhookLatency({
    trades: numberArg('trades', 30),
    // Checked by the bench itself.
    method: /** @type {'paypal' | 'bank_transfer'} */ (methodAt === -1 ? 'paypal' : process.argv[methodAt + 1]),
    wechatLeg: process.argv.includes('--wechat'),
  })
    .then((result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`))
    .catch((error) => {
      process.stderr.write(`webhook bench failed: ${error.stack ?? error}\n`);
      process.exit(1);
    });
}
