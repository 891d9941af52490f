import type { LedgerViolation } from '../../trades/ledger-check.service';
import type { ProblemBody } from '../../common/errors';
import type { ReconciliationService } from '../../reconciliation/reconciliation.service';
import { pageNotice } from '../console-forms';
import { shortId, when } from '../format';
import { html, SafeHtml } from '../html';
import { ConsoleViewer, csrfField, layout } from '../layout';

export type ReconciliationReport = Awaited<ReturnType<ReconciliationService['latest']>>;

export const LEDGER_DONE: Record<string, string> = {
  'reconciliation-queued': 'A reconciliation run is queued: reload this page once it has finished to see its report.',
};

const tradeLink = (id: string | undefined) =>
  id ? html`<a href="/admin/trades/${id}">${shortId(id)}</a>` : html`<span class="muted">—</span>`;
const json = (value: unknown) => html`<code>${value === null || value === undefined ? '' : JSON.stringify(value)}</code>`;

function ledgerSection(check: { ok: boolean; violations: LedgerViolation[] }): SafeHtml {
  if (check.ok) return html`<p class="notice ok" role="status">The books hold: every invariant of the ledger checks out.</p>`;
  return html`<p class="notice error" role="alert">${check.violations.length} violation(s) of the ledger’s invariants.</p>
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Invariant</th>
            <th scope="col">Detail</th>
            <th scope="col">Trade</th>
          </tr>
        </thead>
        <tbody>
          ${check.violations.map(
            (v) =>
              html`<tr>
                <td class="mono">${v.invariant}</td>
                <td>${v.detail}</td>
                <td>${tradeLink(v.tradeId)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
}

function reconciliationSection(viewer: ConsoleViewer, report: ReconciliationReport): SafeHtml {
  const summary =
    report.runId === null
      ? html`<p class="notice">No reconciliation has run yet.</p>`
      : html`<p class="notice ${report.ok ? 'ok' : 'error'}" role="status">
            ${report.ok ? 'Clean: the providers agree with the books.' : `${report.openMismatches} open mismatch(es), or a run that could not answer for every trade.`}
          </p>
          <dl class="facts">
            <dt>Run</dt>
            <dd>${report.runId} (${report.trigger})</dd>
            <dt>Finished</dt>
            <dd>${when(report.ranAt)}</dd>
            <dt>Checked trades</dt>
            <dd>${report.checkedTrades}</dd>
            <dt>Inconclusive trades</dt>
            <dd>${report.inconclusiveTrades}</dd>
            <dt>Mismatches opened / resolved</dt>
            <dd>${report.opened} / ${report.resolved}</dd>
            <dt>Totals</dt>
            <dd>${json(report.totals)}</dd>
          </dl>`;
  const mismatches =
    report.mismatches.length === 0
      ? ''
      : html`<h3>Open mismatches</h3>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Trade</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Ledger</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Detail</th>
                  <th scope="col">Opened</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                ${report.mismatches.map(
                  (m) =>
                    html`<tr>
                      <td>${tradeLink(m.tradeId)}</td>
                      <td class="mono">${m.kind}</td>
                      <td>${json(m.ledger)}</td>
                      <td>${json(m.provider)}</td>
                      <td>${typeof m.detail === 'string' ? m.detail : json(m.detail)}</td>
                      <td>${when(m.openedAt)}</td>
                      <td>${when(m.lastSeenAt)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`;
  return html`${summary}${mismatches}
    <form method="post" action="/admin/ledger/reconciliation" class="stack">
      ${csrfField(viewer)}
      <p><button type="submit">Run a reconciliation now</button></p>
    </form>`;
}

/** The ledger check and the latest reconciliation report, with a form to run one now. */
export function ledgerPage(
  viewer: ConsoleViewer,
  check: { ok: boolean; violations: LedgerViolation[] },
  report: ReconciliationReport,
  notice: { refusal?: ProblemBody; done?: string },
): SafeHtml {
  return layout({
    title: 'Ledger',
    viewer,
    section: 'ledger',
    body: html`<h1>Ledger</h1>
      ${pageNotice(notice.refusal, notice.done)}
      <section aria-labelledby="check">
        <h2 id="check">Ledger check</h2>
        ${ledgerSection(check)}
      </section>
      <section aria-labelledby="reconciliation">
        <h2 id="reconciliation">Reconciliation with the providers</h2>
        ${reconciliationSection(viewer, report)}
      </section>`,
  });
}
