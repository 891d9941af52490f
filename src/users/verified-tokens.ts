/** A token's claims as jsonwebtoken decodes them. */
export type TokenClaims = { sub?: unknown; exp?: unknown; nbf?: unknown } & Record<string, unknown>;

const MAX_ENTRIES = 10_000;

/**
 * Bearer tokens whose signature this process has checked, with their claims, each kept until its `exp`: a token
 * is a constant signed with a secret fixed for the process's life, so a second check of the same string can only
 * give the same answer until it expires. Only the signature check is saved; who the subject is (role, tier,
 * suspension) is still read from the principal cache on every request. A token without `exp`, or not yet valid
 * (`nbf`), is checked every time. Bounded: the oldest entry goes first.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { claims: TokenClaims; exp: number }>();

  constructor(
    /** jsonwebtoken's verify: the claims, or it throws (TokenExpiredError, JsonWebTokenError, NotBeforeError). */
    private readonly verify: (token: string) => TokenClaims | string,
    private readonly maxEntries = MAX_ENTRIES,
    private readonly nowSeconds = () => Math.floor(Date.now() / 1000),
  ) {}

  /** The token's claims, or what jsonwebtoken throws for it. */
  claims(token: string): TokenClaims | string {
    const hit = this.entries.get(token);
    // jsonwebtoken's own rule: expired from the second of `exp` on.
    if (hit && this.nowSeconds() < hit.exp) return hit.claims;
    if (hit) this.entries.delete(token);
    const claims = this.verify(token);
    if (typeof claims === 'object' && typeof claims.exp === 'number' && claims.nbf === undefined) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(token, { claims, exp: claims.exp });
    }
    return claims;
  }

  get size(): number {
    return this.entries.size;
  }
}
