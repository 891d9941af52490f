import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { authConfig } from '../config';

const KEY_LABEL = 'yuanbridge console csrf';

/**
 * CSRF tokens of the console's forms. Signed in: a synchronizer token derived from the session (an HMAC of the
 * session's token), so it needs no storage and dies with the session. Before sign-in there is no session: the
 * sign-in form's token is an HMAC of a random nonce kept in a short-lived SameSite=Strict HttpOnly cookie (a
 * signed double submit). The key is derived from JWT_SECRET, never the secret itself.
 */
@Injectable()
export class ConsoleCsrf {
  private readonly key: Buffer;

  constructor(@Inject(authConfig.KEY) auth: ConfigType<typeof authConfig>) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(auth.jwtSecret, 'utf8'), Buffer.alloc(0), KEY_LABEL, 32));
  }

  forSession(sessionToken: string): string {
    return this.sign(`session:${sessionToken}`);
  }

  checkSession(sessionToken: string, given: unknown): boolean {
    return this.same(this.forSession(sessionToken), given);
  }

  /**
   * What a resolution's confirmation page confirmed: an HMAC of the dispute, the decision (amounts as the
   * service normalized them) and the note, for this session. The commit must carry it for the same decision.
   */
  forDecision(sessionToken: string, disputeId: string, decision: readonly string[]): string {
    return this.sign(`decision:${JSON.stringify([sessionToken, disputeId, ...decision])}`);
  }

  checkDecision(sessionToken: string, disputeId: string, decision: readonly string[], given: unknown): boolean {
    return this.same(this.forDecision(sessionToken, disputeId, decision), given);
  }

  /** A new nonce for the sign-in cookie. */
  newSignInNonce(): string {
    return randomBytes(24).toString('base64url');
  }

  forSignIn(nonce: string): string {
    return this.sign(`sign-in:${nonce}`);
  }

  checkSignIn(nonce: string | undefined, given: unknown): boolean {
    return typeof nonce === 'string' && nonce.length > 0 && this.same(this.forSignIn(nonce), given);
  }

  private sign(text: string): string {
    return createHmac('sha256', this.key).update(text, 'utf8').digest('base64url');
  }

  private same(expected: string, given: unknown): boolean {
    if (typeof given !== 'string') return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
