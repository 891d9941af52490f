import { ProblemBody, toProblem } from '../common/errors';
import { formField } from './console-http';
import { html, SafeHtml } from './html';
import { ConsoleSection, ConsoleViewer, csrfField, layout } from './layout';
import { problemNotice } from './problem-view';

/**
 * The two steps of every console action that changes something: the first post shows what will happen and asks
 * again (nothing is done), the second carries `confirm=yes` and acts. Both carry the session's CSRF token.
 */
export function isConfirmed(body: unknown): boolean {
  return formField(body, 'confirm') === 'yes';
}

export interface ConfirmPage {
  viewer: ConsoleViewer;
  section: ConsoleSection;
  title: string;
  /** What will happen, in words. */
  summary: SafeHtml;
  /** Where the confirmed form posts. */
  action: string;
  /** The first step's fields, carried over as they were typed. */
  fields?: Record<string, string>;
  button: string;
  danger?: boolean;
  /** Where "Cancel" goes (nothing done). */
  back: string;
}

export function confirmPage(page: ConfirmPage): SafeHtml {
  const hidden = Object.entries(page.fields ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`);
  return layout({
    title: page.title,
    viewer: page.viewer,
    section: page.section,
    body: html`<h1>${page.title}</h1>
      <div class="notice" role="status">${page.summary}</div>
      <form method="post" action="${page.action}" class="stack">
        ${csrfField(page.viewer)} ${hidden}
        <input type="hidden" name="confirm" value="yes" />
        <p>
          <button type="submit" ${page.danger ? html` class="danger"` : ''}>${page.button}</button>
          <a class="button secondary" href="${page.back}">Cancel</a>
        </p>
      </form>`,
  });
}

/**
 * A service's refusal, to show on the page the operator was on: a client's mistake or a rule (4xx), as the API
 * would answer it. Anything else goes on to the console's error filter.
 */
export function refusalOf(error: unknown): ProblemBody {
  const { status, body } = toProblem(error);
  if (status >= 500) throw error;
  return body;
}

/** The notice at the top of a page: a refusal, or what the last action did (from a fixed list, never from the URL). */
export function pageNotice(refusal: ProblemBody | undefined, done: string | undefined): SafeHtml {
  if (refusal) return problemNotice(refusal);
  return done ? html`<div class="notice ok" role="status">${done}</div>` : html``;
}
