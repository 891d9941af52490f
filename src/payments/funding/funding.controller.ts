import { Body, Controller, Post, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiSecurity,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
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

export class PaypalFundingView {
  @ApiProperty({ enum: ['paypal'] }) provider: 'paypal';
  @ApiProperty({ description: 'the PayPal order' }) orderId: string;
  @ApiProperty({ description: 'where the traveler approves the payment' }) approveUrl: string;
}

export class BankFundingView {
  @ApiProperty({ enum: ['bank_transfer'] }) provider: 'bank_transfer';
  @ApiProperty({ description: 'the reference the traveler puts on the transfer', example: 'YB-7K2M9Q4XAB' }) reference: string;
  @ApiMoney({ example: '276.25', description: 'the USD to send' }) amountUsd: string;
}

/** One of the two views, told apart by `provider`. */
const FUNDING_VIEW = {
  oneOf: [{ $ref: getSchemaPath(PaypalFundingView) }, { $ref: getSchemaPath(BankFundingView) }],
  discriminator: {
    propertyName: 'provider',
    mapping: { paypal: getSchemaPath(PaypalFundingView), bank_transfer: getSchemaPath(BankFundingView) },
  },
};

@ApiTags('trades')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('v1/trades')
export class FundingController {
  constructor(private readonly funding: FundingService) {}

  /** 201 with the new order; 200 with the same one when asked again while it is live. */
  @Post(':id/funding')
  @Roles('traveler')
  @ApiExtraModels(PaypalFundingView, BankFundingView)
  @ApiCreatedResponse({ description: 'the payment started', schema: FUNDING_VIEW })
  @ApiOkResponse({ description: 'the same payment, asked again while it is live', schema: FUNDING_VIEW })
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
