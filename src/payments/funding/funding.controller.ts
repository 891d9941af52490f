import { Body, Controller, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiProperty, ApiPropertyOptional, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { IsOptional, IsUrl, MaxLength } from 'class-validator';
import type { AuthUser } from '../../common/auth/auth-user';
import { CurrentUser, Roles } from '../../common/auth/decorators';
import { UuidParam } from '../../common/http/uuid-param';
import { FundingService } from './funding.service';

export class StartFundingDto {
  @ApiPropertyOptional({ example: 'https://app.example.com/trades/paid' })
  @IsOptional()
  @MaxLength(2000)
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  returnUrl?: string;

  @ApiPropertyOptional({ example: 'https://app.example.com/trades/cancelled' })
  @IsOptional()
  @MaxLength(2000)
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  cancelUrl?: string;
}

export class FundingView {
  @ApiProperty({ enum: ['paypal', 'bank_transfer'] }) provider: string;
  @ApiPropertyOptional() orderId?: string;
  @ApiPropertyOptional({ description: 'Where the traveler approves the payment' }) approveUrl?: string;
}

@ApiTags('trades')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/trades')
export class FundingController {
  constructor(private readonly funding: FundingService) {}

  /** 201 with the new order; 200 with the same one when asked again while it is live. */
  @Post(':id/funding')
  @Roles('traveler')
  @ApiCreatedResponse({ type: FundingView })
  async start(
    @CurrentUser() caller: AuthUser,
    @UuidParam() id: string,
    @Body() body: StartFundingDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Record<string, unknown>> {
    const result = await this.funding.start(caller, id, body);
    void reply.status(result.created ? 201 : 200);
    return result.body;
  }
}
