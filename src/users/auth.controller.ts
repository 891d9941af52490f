import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/auth/decorators';
import { AccessTokenDto, LoginDto, RegisterDto, UserView } from './dto/users.dto';
import { UsersService } from './users.service';

@ApiTags('auth')
@Public()
@Controller('v1/auth')
export class AuthController {
  constructor(private readonly users: UsersService) {}

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
}
