/**
 * HTML built from plain TypeScript: the `html` tag escapes every interpolated value unless it is already
 * `SafeHtml` (made by `html` itself or by an explicit `raw()`), so text from users, services or the URL can
 * never become markup. Arrays are joined, each item escaped the same way; null, undefined and false render nothing.
 */
export class SafeHtml {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Text as HTML text or as an attribute value (quoted): every character with a meaning in markup escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

export type HtmlValue = SafeHtml | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** Markup trusted as it is: only for text this code wrote itself, never for anything from a request or a row. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
