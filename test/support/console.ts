import type { TestUser } from './factories';

export interface ConsoleResponse {
  status: number;
  headers: Headers;
  text: string;
  cookies: string[];
}

/** A raw request to the console: redirects are not followed, cookies and headers are sent as given. */
export async function consoleRequest(
  baseUrl: string,
  method: string,
  path: string,
  options: { cookie?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<ConsoleResponse> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.cookie) headers.cookie = options.cookie;
  let body: string | undefined;
  if (options.form) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body, redirect: 'manual' });
  return { status: response.status, headers: response.headers, text: await response.text(), cookies: response.headers.getSetCookie() };
}

/** The value of a cookie set by a response, if it was set (not cleared). */
export function cookieValue(setCookies: string[], name: string): string | undefined {
  const line = setCookies.find((c) => c.startsWith(`${name}=`));
  const value = line?.slice(name.length + 1).split(';')[0];
  return value ? value : undefined;
}

/** A hidden field's value in a console page. */
export const hiddenField = (page: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page)?.[1];

/** Signs in through the sign-in form (its nonce cookie and CSRF token), then answers with the session's cookie. */
export async function consoleSignIn(
  baseUrl: string,
  who: TestUser,
  next = '/admin',
  sessionCookie?: string,
): Promise<ConsoleResponse & { cookie?: string }> {
  const form = await consoleRequest(baseUrl, 'GET', `/admin/sign-in?next=${encodeURIComponent(next)}`);
  const nonce = `yb_console_sign_in=${cookieValue(form.cookies, 'yb_console_sign_in')}`;
  const signedIn = await consoleRequest(baseUrl, 'POST', '/admin/sign-in', {
    cookie: sessionCookie ? `${nonce}; ${sessionCookie}` : nonce,
    form: { email: who.email, password: who.password, csrf: hiddenField(form.text, 'csrf')!, next: hiddenField(form.text, 'next') ?? next },
  });
  const token = cookieValue(signedIn.cookies, 'yb_session');
  return { ...signedIn, cookie: token ? `yb_session=${token}` : undefined };
}

/** A signed-in session for raw requests: its cookie and the CSRF token of its forms. */
export async function consoleSession(baseUrl: string, who: TestUser): Promise<{ cookie: string; csrf: string }> {
  const signedIn = await consoleSignIn(baseUrl, who);
  if (signedIn.status !== 303 || !signedIn.cookie) throw new Error(`sign-in answered ${signedIn.status}`);
  const page = await consoleRequest(baseUrl, 'GET', '/admin/disputes', { cookie: signedIn.cookie });
  return { cookie: signedIn.cookie, csrf: hiddenField(page.text, 'csrf')! };
}
