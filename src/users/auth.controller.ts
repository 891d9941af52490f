import { Body, Controller, Delete, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { appConfig } from '../config';
import { Public } from '../common/auth/decorators';
import { AccessTokenDto, LoginDto, RegisterDto, UserView } from './dto/users.dto';
import { UsersService } from './users.service';

export const SESSION_COOKIE = 'yb_session';

/**
 * The session cookie's attributes, for whatever sets or clears it (this API and the console's sign-in page).
 * Path=/, not /admin: the browser must send the cookie to DELETE /v1/auth/session, or ending the session could
 * not revoke it. The cookie grants nothing under /v1, which authenticates only by Bearer or X-Api-Key; only the
 * console's pages (src/console) and the queue dashboard's hook read it.
 */
export function sessionCookieOptions(production: boolean) {
  return { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: production };
}

@ApiTags('auth')
@Public()
@Controller('v1/auth')
export class AuthController {
  constructor(
    private readonly users: UsersService,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {}

  @Post('register')
  @ApiCreatedResponse({ type: UserView })
  register(@Body() body: RegisterDto): Promise<UserView> {
    return this.users.register(body);
  }

  @Post('login')
  @HttpCode(200)
  @ApiOkResponse({ type: AccessTokenDto })
  login(@Body() body: LoginDto): Promise<AccessTokenDto> {
    return this.users.login(body.email, body.password);
  }

  /**
   * The operator console's session: an HttpOnly, SameSite=Strict cookie holding an opaque token of a
   * server-side session (console_sessions), which DELETE revokes.
   * No login CSRF: the body must be JSON (415 otherwise, json-bodies.ts), which no form of another site can send;
   * a script of another site must pass a CORS preflight first, and only CORS_ORIGINS (the API's own clients) do.
   */
  @Post('session')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Sets the session cookie' })
  async createSession(@Body() body: LoginDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const session = await this.users.operatorSession(body.email, body.password);
    void reply.setCookie(SESSION_COOKIE, session.token, { ...this.cookieOptions(), maxAge: session.expiresIn });
  }

  /** Revokes the session the cookie names, if any, and clears the cookie: 204 either way. */
  @Delete('session')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Ends the session and clears its cookie' })
  async endSession(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const token = request.cookies[SESSION_COOKIE];
    if (token) await this.users.endOperatorSession(token);
    void reply.clearCookie(SESSION_COOKIE, this.cookieOptions());
  }

  private cookieOptions() {
    return sessionCookieOptions(this.app.production);
  }
}
