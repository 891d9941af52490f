import { Body, Controller, Delete, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { appConfig } from '../config';
import { Public } from '../common/auth/decorators';
import { AccessTokenDto, LoginDto, RegisterDto, UserView } from './dto/users.dto';
import { UsersService } from './users.service';

export const SESSION_COOKIE = 'yb_session';

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

  /** The operator console's session: an HttpOnly, SameSite=Strict cookie sent only to /admin. */
  @Post('session')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Sets the session cookie' })
  async createSession(@Body() body: LoginDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const session = await this.users.operatorSession(body.email, body.password);
    void reply.setCookie(SESSION_COOKIE, session.accessToken, { ...this.cookieOptions(), maxAge: session.expiresIn });
  }

  @Delete('session')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Clears the session cookie' })
  endSession(@Res({ passthrough: true }) reply: FastifyReply): void {
    void reply.clearCookie(SESSION_COOKIE, this.cookieOptions());
  }

  private cookieOptions() {
    return { path: '/admin', httpOnly: true, sameSite: 'strict' as const, secure: this.app.production };
  }
}
