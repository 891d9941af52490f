import { html, SafeHtml } from './html';

export const ASSETS_PATH = '/admin/assets';

/** What a signed-in page knows of its viewer: the operator, and the CSRF token every form of theirs carries. */
export interface ConsoleViewer {
  operatorId: string;
  csrfToken: string;
}

export type ConsoleSection = 'disputes' | 'trades' | 'users' | 'ledger';

const NAV: { key: ConsoleSection | 'queues' | 'docs'; label: string; href: string }[] = [
  { key: 'disputes', label: 'Disputes', href: '/admin/disputes' },
  { key: 'trades', label: 'Trades', href: '/admin/trades' },
  { key: 'users', label: 'Users', href: '/admin/users' },
  { key: 'ledger', label: 'Ledger', href: '/admin/ledger' },
  { key: 'queues', label: 'Queue dashboard', href: '/admin/queues' },
  { key: 'docs', label: 'API docs', href: '/docs' },
];

export interface PageOptions {
  title: string;
  body: SafeHtml;
  /** The signed-in operator: the nav and the sign-out form. Absent on the sign-in and error pages before sign-in. */
  viewer?: ConsoleViewer;
  /** The nav entry to mark as the current page. */
  section?: ConsoleSection;
}

/** The hidden CSRF field every form of a signed-in page carries. */
export function csrfField(viewer: ConsoleViewer): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${viewer.csrfToken}" />`;
}

/** The page shell: skip link, header with the nav and sign-out, and `<main>`. */
export function layout(page: PageOptions): SafeHtml {
  const { viewer } = page;
  const header = viewer
    ? html`<nav aria-label="Console">
          <ul>
            ${NAV.map(
              (item) =>
                html`<li><a href="${item.href}" ${item.key === page.section ? html` aria-current="page"` : ''}>${item.label}</a></li>`,
            )}
          </ul>
        </nav>
        <form method="post" action="/admin/sign-out">
          ${csrfField(viewer)}
          <button type="submit" class="secondary">Sign out</button>
        </form>`
    : '';
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${page.title} · Yuanbridge console</title>
        <link rel="stylesheet" href="${ASSETS_PATH}/console.css" />
        <script src="${ASSETS_PATH}/console.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <a class="brand" href="/admin">Yuanbridge console</a>
          ${header}
        </header>
        <main id="main" tabindex="-1">${page.body}</main>
      </body>
    </html> `;
}
