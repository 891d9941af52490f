import { ledgerPage, ReconciliationReport } from './ledger-page';

const viewer = { operatorId: '00000000-0000-4000-8000-000000000001', csrfToken: 'token-1' };
const tradeId = '11111111-2222-4333-8444-555555555555';

const report = (over: Partial<ReconciliationReport> = {}): ReconciliationReport => ({
  runId: 7,
  ranAt: '2026-12-06T10:00:00.000Z',
  startedAt: '2026-12-06T09:59:58.000Z',
  trigger: 'operator',
  checkedTrades: 3,
  inconclusiveTrades: 0,
  opened: 1,
  resolved: 0,
  totals: { paypalUsd: '10.00' },
  ok: false,
  openMismatches: 1,
  mismatches: [
    {
      tradeId,
      kind: 'capture_missing',
      ledger: { capturedUsd: '10.00' },
      provider: null,
      detail: '<img src=x onerror=alert(1)> no capture',
      openedAt: '2026-12-06T10:00:00.000Z',
      lastSeenAt: '2026-12-06T10:00:00.000Z',
    },
  ],
  ...over,
});

describe('the ledger page', () => {
  it('shows each violation and each open mismatch, linked to its trade, every text escaped', () => {
    const page = ledgerPage(
      viewer,
      { ok: false, violations: [{ invariant: 'entries_sum_to_zero', detail: 'USD: posted <1>, pending 0', tradeId }] },
      report(),
      {},
    ).toString();
    expect(page).toContain('1 violation(s)');
    expect(page).toContain('USD: posted &lt;1&gt;, pending 0');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt; no capture');
    expect(page).not.toContain('<img');
    expect(page.match(new RegExp(`href="/admin/trades/${tradeId}"`, 'g'))).toHaveLength(2);
    expect(page).toContain('1 open mismatch(es)');
    // The run-now form carries the session's CSRF token.
    expect(page).toMatch(
      /<form method="post" action="\/admin\/ledger\/reconciliation"[^>]*>\s*<input type="hidden" name="csrf" value="token-1"\s*\/?>/,
    );
  });

  it('says so when the books hold and when no reconciliation has run', () => {
    const empty = report({
      runId: null,
      ranAt: null,
      startedAt: null,
      trigger: null,
      totals: null,
      ok: false,
      openMismatches: 0,
      mismatches: [],
    });
    const page = ledgerPage(viewer, { ok: true, violations: [] }, empty, { done: 'queued' }).toString();
    expect(page).toContain('The books hold');
    expect(page).toContain('No reconciliation has run yet.');
    expect(page).toContain('<div class="notice ok" role="status">queued</div>');
  });
});
