import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ApiMoney, ApiRate } from '../../common/http/api-schema';
import { IsDefined, IsIn, IsString, Matches } from 'class-validator';
import { PageQuery } from '../../common/http/pagination';
import { OptionalAsSent, OptionalOneOf } from '../../common/http/optional-fields';
import { PAYMENT_METHODS } from '../../market/market.types';
import type { PaymentMethod } from '../../market/market.types';
import { TRADE_STATES } from '../trade.state-machine';
import type { TradeState } from '../trade.state-machine';

export class AcceptRequestDto {
  @OptionalAsSent('money', { example: '500.00', description: 'all that is open when left out' })
  amountCny?: unknown;
}

export class TakeOfferDto {
  @ApiMoney({ example: '1000.00', input: true })
  @IsDefined()
  amountCny: unknown;

  @ApiProperty({ enum: PAYMENT_METHODS })
  @IsDefined()
  @IsIn(PAYMENT_METHODS)
  paymentMethod: PaymentMethod;
}

export class ListTradesQuery extends PageQuery {
  @OptionalOneOf(TRADE_STATES)
  state?: TradeState;
}

export class DeadlinesView {
  @ApiPropertyOptional() fundingBy?: string;
  @ApiPropertyOptional() payoutBy?: string;
  @ApiPropertyOptional() verifyBy?: string;
}

export class TradeView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: TRADE_STATES }) state: TradeState;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) requestId: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) offerId: string | null;
  @ApiProperty({ format: 'uuid' }) travelerId: string;
  @ApiProperty({ format: 'uuid' }) counterpartyId: string;
  @ApiMoney({ example: '2000.00' }) amountCny: string;
  @ApiMoney({ example: '276.24' }) amountUsd: string;
  @ApiRate({ example: '7.2400' }) rate: string;
  @ApiMoney({ example: '2.76' }) feeUsd: string;
  @ApiMoney({
    example: '273.48',
    description:
      'What the counterparty receives: amountUsd − feeUsd (a split: their part less its fee; 0.00 once refunded, cancelled or expired)',
  })
  netUsd: string;
  @ApiProperty({ enum: PAYMENT_METHODS }) paymentMethod: PaymentMethod;
  @ApiProperty({ type: DeadlinesView }) deadlines: DeadlinesView;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) disputeId: string | null;
  @ApiProperty() settlementFailing: boolean;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiPropertyOptional({ description: "Only for the trade's counterparty, while it is funded or payout_sent" }) travelerWechatId?: string;
}

export class TradeEventActorView {
  @ApiProperty({ enum: ['traveler', 'counterparty', 'operator', 'system'] }) kind: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'null for the system' }) id: string | null;
}

export class TradeEventView {
  @ApiProperty() at: string;
  @ApiProperty({ type: TradeEventActorView }) actor: { kind: string; id: string | null };
  @ApiProperty() type: string;
  @ApiProperty({ enum: TRADE_STATES, nullable: true, type: String }) fromState: string | null;
  @ApiProperty({ enum: TRADE_STATES, nullable: true, type: String }) toState: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, description: "the event's own facts (reason, action, deadline…)" })
  detail: Record<string, unknown>;
}

export class ReportPayoutDto {
  @ApiProperty({ example: '1000039001202411250012345678', description: 'the WeChat transfer that sent the RMB' })
  @IsDefined()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{8,64}$/, { message: 'wechatTransferId must be 8–64 letters, digits, _ or -' })
  wechatTransferId: string;
}
