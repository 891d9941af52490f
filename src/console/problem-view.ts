import type { ProblemBody } from '../common/errors';
import { html, SafeHtml } from './html';

/** A refusal as the operator reads it: the problem's title, its detail, and each field's error. */
export function problemNotice(problem: Pick<ProblemBody, 'title' | 'detail' | 'status' | 'code'> & { errors?: unknown }): SafeHtml {
  const errors = Array.isArray(problem.errors)
    ? (problem.errors as { field?: unknown; message?: unknown; code?: unknown }[]).map(
        (e) =>
          html`<li>
            <span class="mono">${String(e.field ?? '')}</span>: ${String(e.message ?? '')}
            <span class="muted mono">${String(e.code ?? '')}</span>
          </li>`,
      )
    : [];
  return html`<div class="notice error" role="alert">
    <p>
      <strong>${problem.title}</strong> <span class="muted">(${problem.status} <span class="mono">${problem.code}</span>)</span>
    </p>
    <p>${problem.detail}</p>
    ${
      errors.length > 0
        ? html`<ul>
            ${errors}
          </ul>`
        : ''
    }
  </div>`;
}
