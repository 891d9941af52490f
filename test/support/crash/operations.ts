import { randomBytes } from 'node:crypto';
import type { Party, PatientApi } from './trade-scripts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls every second until the check passes; bounded, so a service that never recovers fails the test. */
export async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await sleep(1000);
  }
}
/** A user with a WeChat wallet on file and at the mock (counterparties: a PayPal payout account too). */
export async function party(api: PatientApi, role: 'traveler' | 'counterparty', label: string, balanceCny: string): Promise<Party> {
  const email = `${label}-${randomBytes(4).toString('hex')}@example.com`;
  const password = 'crash test password';
  const registered = await api('POST', '/v1/auth/register', { body: { email, password, displayName: label, role } });
  const token = (await api('POST', '/v1/auth/login', { body: { email, password } })).body.accessToken;
  const wechatId = `wx_${label}_${randomBytes(4).toString('hex')}`;
  await api('PUT', '/v1/me/wechat-wallet', { token, body: { wechatId } });
  await api('POST', '/sandbox/wechat/wallets', { body: { wechatId, balanceCny } });
  if (role === 'counterparty') {
    await api('PUT', '/v1/me/payout-account', {
      token,
      body: { method: 'paypal', paypalEmail: `${label}-payout-${randomBytes(3).toString('hex')}@example.com` },
    });
  }
  return { id: registered.body.id, token, wechatId, label };
}

/** Disputes the system opened (a verification that failed) are an operator's to decide; they release. */
export async function resolveOpenDisputes(api: PatientApi, token: string): Promise<number> {
  let resolved = 0;
  for (const status of ['open', 'assigned']) {
    const list = await api('GET', `/v1/admin/disputes?status=${status}&limit=100`, { token });
    for (const dispute of list.body?.data ?? []) {
      const answer = await api('POST', `/v1/admin/disputes/${dispute.id}/resolve`, {
        token,
        body: { outcome: 'release', note: 'Checked by hand.' },
      });
      if (answer.status === 200) resolved += 1;
    }
  }
  return resolved;
}

/** A reconciliation run after recovery, when the service has one: clean, or its mismatches. */
export async function reconcile(api: PatientApi, token: string): Promise<{ status: string; ok: boolean | unknown }> {
  const before = await api('GET', '/v1/admin/reconciliation', { token });
  if (before.status === 404) return { status: 'absent', ok: true };
  const run = await api('POST', '/v1/admin/reconciliation/run', { token });
  if (run.status !== 202) return { status: `run answered ${run.status}`, ok: run.body };
  let latest = before;
  await until(async () => {
    latest = await api('GET', '/v1/admin/reconciliation', { token });
    return latest.status === 200 && latest.body.runId !== before.body?.runId && !!latest.body.ranAt;
  }, 60000).catch(() => undefined);
  if (latest.status !== 200 || latest.body.runId === before.body?.runId) return { status: 'no run finished', ok: latest.body };
  return { status: latest.body.ok ? 'clean' : 'mismatches', ok: latest.body.ok ? true : latest.body };
}
