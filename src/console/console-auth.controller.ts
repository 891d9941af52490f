import { Body, Controller, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors';
import { fromThisOrigin } from '../common/http/same-origin';
import { appConfig } from '../config';
import { SESSION_COOKIE, sessionCookieOptions } from '../users/auth.controller';
import { UsersService } from '../users/users.service';
import { CONSOLE_CSS, CONSOLE_JS } from './assets';
import { ConsoleCsrf } from './console-csrf';
import { consoleHeaders, formField, redirect, safeNext, sendPage } from './console-http';
import { ConsolePages, crossOriginRefusal, SignedIn } from './console-session';
import { signInPage } from './sign-in-page';

/** The sign-in form's nonce (its CSRF token is an HMAC of it): only for the sign-in page, for ten minutes. */
const SIGN_IN_COOKIE = 'yb_console_sign_in';
const SIGN_IN_COOKIE_SECONDS = 600;

const ASSETS: Record<string, { type: string; text: string }> = {
  'console.css': { type: 'text/css; charset=utf-8', text: CONSOLE_CSS },
  'console.js': { type: 'text/javascript; charset=utf-8', text: CONSOLE_JS },
};

/** Sign-in and sign-out of the operator console, and its stylesheet and script. */
@ConsolePages()
@Controller('admin')
export class ConsoleAuthController {
  constructor(
    private readonly users: UsersService,
    private readonly csrf: ConsoleCsrf,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {}

  /** The console's home: the dispute queue (the sign-in page first, without a session). */
  @Get()
  @SignedIn()
  home(@Res() reply: FastifyReply): void {
    redirect(reply, '/admin/disputes');
  }

  @Get('sign-in')
  signInForm(@Query('next') next: unknown, @Res() reply: FastifyReply): void {
    this.sendSignIn(reply, 200, { next: safeNext(next) });
  }

  /**
   * Opens a console session with the same throttled check as /v1/auth/session: operators only (anyone else is
   * shown the form again, with no session), the form's CSRF token checked first.
   */
  @Post('sign-in')
  async signIn(@Req() request: FastifyRequest, @Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    const next = safeNext(formField(body, 'next'));
    const email = formField(body, 'email').trim();
    if (!fromThisOrigin(request)) {
      return this.sendSignIn(reply, 403, { next, email, message: 'The sign-in form was sent from a page of another site: sign in here.' });
    }
    if (!this.csrf.checkSignIn(request.cookies[SIGN_IN_COOKIE], formField(body, 'csrf'))) {
      return this.sendSignIn(reply, 403, { next, email, message: 'The sign-in form expired or did not come from this page: try again.' });
    }
    const password = formField(body, 'password');
    if (!email || !password) return this.sendSignIn(reply, 400, { next, email, message: 'Enter your email and password.' });
    let session: { token: string; expiresIn: number };
    try {
      session = await this.users.operatorSession(email, password);
    } catch (error) {
      const refusal = signInRefusal(error);
      if (!refusal) throw error;
      if (refusal.retryAfter !== undefined) void reply.header('retry-after', String(refusal.retryAfter));
      return this.sendSignIn(reply, refusal.status, { next, email, message: refusal.message });
    }
    // The session the browser held before, if any, ends: one browser, one session.
    const previous = request.cookies[SESSION_COOKIE];
    if (previous) await this.users.endOperatorSession(previous);
    void reply.setCookie(SESSION_COOKIE, session.token, { ...sessionCookieOptions(this.app.production), maxAge: session.expiresIn });
    void reply.clearCookie(SIGN_IN_COOKIE, this.signInCookieOptions());
    redirect(reply, next);
  }

  /**
   * Ends the session server-side and clears its cookie. Not behind the session guard: any session, even a
   * suspended operator's, can be ended; the form must still come from this console's page with its CSRF token.
   */
  @Post('sign-out')
  async signOut(@Req() request: FastifyRequest, @Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    const token = request.cookies[SESSION_COOKIE];
    if (!token) return redirect(reply, '/admin/sign-in');
    if (!fromThisOrigin(request)) throw crossOriginRefusal();
    if (!this.csrf.checkSession(token, formField(body, 'csrf'))) {
      throw new DomainError('forbidden', 'The form did not come from this console or has expired: reload the page and try again');
    }
    await this.users.endOperatorSession(token);
    void reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(this.app.production));
    redirect(reply, '/admin/sign-in');
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() reply: FastifyReply): void {
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) throw DomainError.notFound('Asset');
    void consoleHeaders(reply).header('content-type', asset.type).header('cache-control', 'public, max-age=300').send(asset.text);
  }

  private sendSignIn(reply: FastifyReply, status: number, form: { next: string; email?: string; message?: string }): void {
    // A fresh nonce for every form shown: the token in the page and the cookie go together.
    const nonce = this.csrf.newSignInNonce();
    void reply.setCookie(SIGN_IN_COOKIE, nonce, { ...this.signInCookieOptions(), maxAge: SIGN_IN_COOKIE_SECONDS });
    sendPage(reply, signInPage({ ...form, csrfToken: this.csrf.forSignIn(nonce) }), status);
  }

  private signInCookieOptions() {
    return { path: '/admin/sign-in', httpOnly: true, sameSite: 'strict' as const, secure: this.app.production };
  }
}

/** The sign-in refusals an operator can act on, in plain words; anything else is an error page. */
function signInRefusal(error: unknown): { status: number; message: string; retryAfter?: number } | null {
  if (!(error instanceof DomainError)) return null;
  switch (error.code) {
    case 'unauthenticated':
      return { status: 401, message: 'Email or password is wrong.' };
    case 'forbidden':
      return { status: 403, message: 'This console is for operators.' };
    case 'account_suspended':
      return { status: 403, message: 'This operator account is suspended.' };
    case 'rate_limited':
      return {
        status: 429,
        message: `Too many failed sign-ins for this email: try again in ${error.retryAfterSeconds ?? 60} seconds.`,
        retryAfter: error.retryAfterSeconds ?? 60,
      };
    case 'validation_failed':
      return { status: 400, message: 'Enter a valid email and password.' };
    default:
      return null;
  }
}
