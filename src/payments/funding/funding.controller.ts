import { Body, Controller, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { IsOptional, IsUrl, MaxLength } from 'class-validator';
import type { AuthUser } from '../../common/auth/auth-user';
import { CurrentUser, Roles } from '../../common/auth/decorators';
import { ApiMoney } from '../../common/http/api-schema';
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

/** A PayPal order (`orderId`, `approveUrl`) or bank-transfer instructions (`reference`, `amountUsd`), by `provider`. */
export class FundingView {
  @ApiProperty({ enum: ['paypal', 'bank_transfer'] }) provider: string;
  @ApiPropertyOptional({ description: 'PayPal: the order' }) orderId?: string;
  @ApiPropertyOptional({ description: 'PayPal: where the traveler approves the payment' }) approveUrl?: string;
  @ApiPropertyOptional({ description: 'bank transfers: the reference the traveler puts on the transfer', example: 'YB-7K2M9Q4XAB' })
  reference?: string;
  @ApiMoney({ example: '276.25', description: 'bank transfers: the USD to send', required: false }) amountUsd?: string;
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
  @ApiCreatedResponse({ type: FundingView, description: 'the payment started' })
  @ApiOkResponse({ type: FundingView, description: 'the same payment, asked again while it is live' })
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
