import { html, SafeHtml } from './html';
import { layout } from './layout';

export interface SignInForm {
  csrfToken: string;
  next: string;
  email?: string;
  /** Why the last attempt failed, in plain words. */
  message?: string;
}

export function signInPage(form: SignInForm): SafeHtml {
  const body = html`<h1>Sign in</h1>
    <p class="muted">The console is for operators. Operators are created with <code>npm run cli -- create-operator</code>.</p>
    ${form.message ? html`<div class="notice error" role="alert"><p>${form.message}</p></div>` : ''}
    <form class="stack" method="post" action="/admin/sign-in">
      <input type="hidden" name="csrf" value="${form.csrfToken}" />
      <input type="hidden" name="next" value="${form.next}" />
      <label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="username" required value="${form.email ?? ''}" />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <div><button type="submit">Sign in</button></div>
    </form>`;
  return layout({ title: 'Sign in', body });
}
