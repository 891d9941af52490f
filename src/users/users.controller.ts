import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { UuidParam } from '../common/http/uuid-param';
import { PublicProfileView } from './dto/users.dto';
import { UsersService } from './users.service';

@ApiTags('accounts')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get(':id')
  @ApiOkResponse({ type: PublicProfileView })
  profile(@UuidParam() id: string): Promise<PublicProfileView> {
    return this.users.publicProfile(id);
  }
}
