import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { createHash, randomBytes } from 'node:crypto';
import type { AuthUser } from '../common/auth/auth-user';
import { normalizeEmail } from '../common/crypto/field-encryption';
import { DomainError } from '../common/errors';
import { Cursors } from '../common/http/cursors';
import { Page, PageQuery, readPage } from '../common/http/pagination';
import { isTimeCursor } from '../common/http/time-cursor';
import { authConfig } from '../config';
import { AccessTokenDto, ApiKeyView, CreateApiKeyDto, CreatedApiKeyView, PublicProfileView, RegisterDto, UserView } from './dto/users.dto';
import { apiKeyExpiry } from './api-key-expiry';
import { ConsoleSessionsRepository } from './console-sessions.repository';
import { PasswordHasher } from './password-hasher';
import { SignInThrottle } from './sign-in-throttle';
import { presentApiKey, presentPublicProfile, presentUser } from './users.presenter';
import { UsersRepository } from './users.repository';
import { Transactions } from '../database/transactions';

export const API_KEY_PREFIX = 'yb_';
const API_KEY_SHOWN_CHARS = 11;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

@Injectable()
export class UsersService {
  constructor(
    private readonly transactions: Transactions,
    private readonly users: UsersRepository,
    private readonly consoleSessions: ConsoleSessionsRepository,
    private readonly hasher: PasswordHasher,
    private readonly signIn: SignInThrottle,
    private readonly jwt: JwtService,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
    private readonly cursors: Cursors,
  ) {}

  /** Creates a traveler or counterparty (operators come only from the CLI). 409 `email_taken` when the email is registered. */
  async register(input: RegisterDto): Promise<UserView> {
    const passwordHash = await this.hasher.hash(input.password);
    const user = await this.transactions.run((manager) =>
      this.users.insertUser(manager, {
        email: normalizeEmail(input.email),
        passwordHash,
        displayName: input.displayName,
        role: input.role,
      }),
    );
    if (!user) throw new DomainError('email_taken', 'An account with this email exists already');
    return presentUser(user);
  }

  /** Creates an operator; used by the CLI only. */
  async createOperator(email: string, password: string, displayName = 'Operator'): Promise<UserView> {
    const passwordHash = await this.hasher.hash(password);
    const user = await this.users.insertOperator({ email: normalizeEmail(email), passwordHash, displayName, role: 'operator' });
    if (!user) throw new DomainError('email_taken', 'An account with this email exists already');
    return presentUser(user);
  }

  /** Suspended users sign in too: they may still finish their live trades. */
  async login(email: string, password: string): Promise<AccessTokenDto> {
    const credentials = await this.verifyCredentials(email, password);
    const accessToken = await this.jwt.signAsync({ sub: credentials.id, role: credentials.role });
    return { accessToken, expiresIn: this.auth.jwtExpiresInSeconds, tokenType: 'Bearer' };
  }

  /**
   * Opens an operator console session, stored server-side so that ending it revokes it; only operators not
   * suspended get one.
   * Returns the opaque token for the cookie and its lifetime, the access tokens' lifetime.
   */
  async operatorSession(email: string, password: string): Promise<{ token: string; expiresIn: number }> {
    const credentials = await this.verifyCredentials(email, password);
    if (credentials.role !== 'operator') throw new DomainError('forbidden', 'Console sessions are for operators');
    if ((await this.users.findPrincipal(credentials.id))?.suspended !== false) {
      throw new DomainError('account_suspended', 'The operator account is suspended');
    }
    const expiresIn = this.auth.jwtExpiresInSeconds;
    return { token: await this.consoleSessions.open(credentials.id, expiresIn), expiresIn };
  }

  /** Ends the console session of this token, if it is one. */
  async endOperatorSession(token: string): Promise<void> {
    await this.consoleSessions.end(token);
  }

  /**
   * Checks a password sign-in, throttled per email (429 while locked, the right password included). An unknown
   * email is counted, and costs a hash, like a wrong password: the answer never says whether it exists.
   */
  private async verifyCredentials(email: string, password: string) {
    const normalized = normalizeEmail(email);
    await this.signIn.attempt(normalized);
    const credentials = await this.users.findCredentialsByEmail(normalized);
    const valid = await this.hasher.verify(credentials?.passwordHash, password);
    if (!credentials || !valid) throw new DomainError('unauthenticated', 'Email or password is wrong');
    await this.signIn.succeeded(normalized);
    return credentials;
  }

  async me(caller: AuthUser): Promise<UserView> {
    return presentUser(await this.require(caller.id));
  }

  async publicProfile(id: string): Promise<PublicProfileView> {
    return presentPublicProfile(await this.require(id));
  }

  private async require(id: string) {
    const user = await this.users.findWithReputation(id);
    if (!user) throw DomainError.notFound('User');
    return user;
  }

  /** The key is returned once; only its SHA-256 and a short prefix are stored. */
  async createApiKey(caller: AuthUser, input: CreateApiKeyDto): Promise<CreatedApiKeyView> {
    const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const stored = await this.users.insertApiKey({
      userId: caller.id,
      prefix: key.slice(0, API_KEY_SHOWN_CHARS),
      keyHash: hashApiKey(key),
      name: input.name ?? null,
      scope: input.scope ?? null,
      expiresAt: apiKeyExpiry(input),
    });
    if (!stored) throw new DomainError('unauthenticated', 'The account no longer exists');
    return { ...presentApiKey(stored), key };
  }

  async listApiKeys(caller: AuthUser, query: PageQuery): Promise<Page<ApiKeyView>> {
    return readPage(
      query,
      this.cursors.of('api-keys', isTimeCursor),
      (limit, after) => this.users.listApiKeys(caller.id, limit, after && { createdAt: after.t, id: after.id }),
      presentApiKey,
      (row) => ({ t: row.createdAt.toISOString(), id: row.id }),
    );
  }

  async revokeApiKey(caller: AuthUser, keyId: string): Promise<ApiKeyView> {
    const key = await this.users.revokeApiKey(caller.id, keyId);
    if (!key) throw DomainError.notFound('API key');
    return presentApiKey(key);
  }
}
