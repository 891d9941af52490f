import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ApiMoney, ApiOneOf, ApiRate } from '../../common/http/api-schema';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { PageQuery } from '../../common/http/pagination';
import { OptionalAsSent, OptionalOneOf } from '../../common/http/optional-fields';
import { OFFER_STATUSES, PAYMENT_METHODS, REQUEST_STATUSES } from '../market.types';
import type { OfferStatus, PaymentMethod, RequestStatus } from '../market.types';
import { ReputationView } from '../../users/dto/users.dto';

// Money and rates are kept as sent (strings) and parsed by the money module in the service, so a JSON
// number or a third decimal is refused there with the field named.

export class PriceDto {
  @ApiProperty({ enum: ['fixed', 'floating'] })
  @IsDefined()
  @IsIn(['fixed', 'floating'])
  type: 'fixed' | 'floating';

  @OptionalAsSent('rate', { example: '7.2000', description: 'fixed prices: CNY per 1 USD, up to 4 decimals' })
  rate?: unknown;

  @ApiPropertyOptional({ example: -150, description: 'floating prices: basis points over the reference rate' })
  @IsOptional()
  @IsInt()
  @Min(-9999)
  @Max(9999)
  premiumBps?: number;
}

/** The documented shapes of a price in a request body (PriceDto validates whichever is sent). */
export class FixedPriceInput {
  @ApiProperty({ enum: ['fixed'] }) type: 'fixed';
  @ApiRate({ example: '7.2000', input: true }) rate: string;
}

export class FloatingPriceInput {
  @ApiProperty({ enum: ['floating'] }) type: 'floating';
  @ApiProperty({ example: -150, minimum: -9999, maximum: 9999, description: 'basis points over the reference rate' }) premiumBps: number;
}

const PRICE_INPUT = (example: object) =>
  ApiOneOf({ fixed: FixedPriceInput, floating: FloatingPriceInput }, 'type', {
    description: '`{type: "fixed", rate}` or `{type: "floating", premiumBps}`',
    example,
  });

export class CreateRequestDto {
  @ApiMoney({ example: '2000.00', description: 'CNY wanted', input: true })
  @IsDefined()
  amountCny: unknown;

  @PRICE_INPUT({ type: 'floating', premiumBps: -150 })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => PriceDto)
  price: PriceDto;

  @ApiProperty({ enum: PAYMENT_METHODS })
  @IsDefined()
  @IsIn(PAYMENT_METHODS)
  paymentMethod: PaymentMethod;

  @OptionalAsSent('money', { example: '500.00', description: 'smallest part a counterparty may accept (all of it when left out)' })
  minFillCny?: unknown;

  @ApiPropertyOptional({ minimum: 5, maximum: 10080, default: 1440 })
  @IsOptional()
  @IsInt()
  @Min(5)
  @Max(10080)
  expiresInMinutes?: number;
}

export class CreateOfferDto {
  @ApiMoney({ example: '500.00', input: true })
  @IsDefined()
  minCny: unknown;

  @ApiMoney({ example: '5000.00', input: true })
  @IsDefined()
  maxCny: unknown;

  @ApiMoney({ example: '20000.00', input: true })
  @IsDefined()
  totalCny: unknown;

  @PRICE_INPUT({ type: 'fixed', rate: '7.2500' })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => PriceDto)
  price: PriceDto;

  @ApiProperty({ enum: PAYMENT_METHODS, isArray: true })
  @IsDefined()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(2)
  @ArrayUnique()
  @IsIn(PAYMENT_METHODS, { each: true })
  paymentMethods: PaymentMethod[];
}

/** What both listings filter on besides their own fields: a payment method and bounds on the effective rate. */
class ListingQuery extends PageQuery {
  @OptionalOneOf(PAYMENT_METHODS)
  paymentMethod?: PaymentMethod;

  @OptionalAsSent('rate', { example: '7.1000', description: 'effective rate at least' })
  minRate?: string;

  @OptionalAsSent('rate', { example: '7.3000', description: 'effective rate at most' })
  maxRate?: string;
}

export class ListRequestsQuery extends ListingQuery {
  @OptionalOneOf(REQUEST_STATUSES)
  status?: RequestStatus;

  @OptionalAsSent('money', { example: '500.00', description: 'remaining CNY at least' })
  minCny?: string;

  @OptionalAsSent('money', { example: '5000.00', description: 'remaining CNY at most' })
  maxCny?: string;
}

export class ListOffersQuery extends ListingQuery {
  @OptionalOneOf(OFFER_STATUSES)
  status?: OfferStatus;

  @OptionalAsSent('money', { example: '1000.00', description: 'offers whose range and availability allow this amount' })
  amountCny?: string;

  @OptionalOneOf(['true', 'false'], "the caller's own offers, any status")
  mine?: 'true' | 'false';
}

export class FixedPriceView {
  @ApiProperty({ enum: ['fixed'] }) type: 'fixed';
  @ApiRate({ example: '7.2000' }) rate: string;
}

export class FloatingPriceView {
  @ApiProperty({ enum: ['floating'] }) type: 'floating';
  @ApiProperty({ example: -150, description: 'basis points over the reference rate' }) premiumBps: number;
}

export type PriceView = FixedPriceView | FloatingPriceView;

const PRICE_VIEW = () => ApiOneOf({ fixed: FixedPriceView, floating: FloatingPriceView }, 'type');

export class MakerView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() displayName: string;
  @ApiProperty({ type: ReputationView }) reputation: ReputationView;
}

export class RequestView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) travelerId: string;
  @ApiMoney({ example: '2000.00' }) amountCny: string;
  @ApiMoney({ example: '1500.00' }) remainingCny: string;
  @ApiMoney({ example: '500.00' }) minFillCny: string;
  @PRICE_VIEW() price: PriceView;
  @ApiRate({ example: '7.1314', nullable: true }) effectiveRate: string | null;
  @ApiProperty({ enum: PAYMENT_METHODS }) paymentMethod: PaymentMethod;
  @ApiProperty({ enum: REQUEST_STATUSES }) status: RequestStatus;
  @ApiProperty() expiresAt: string;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ type: MakerView }) maker: MakerView;
}

export class OfferView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) counterpartyId: string;
  @ApiMoney({ example: '500.00' }) minCny: string;
  @ApiMoney({ example: '5000.00' }) maxCny: string;
  @ApiMoney({ example: '20000.00' }) totalCny: string;
  @ApiMoney({ example: '20000.00' }) availableCny: string;
  @PRICE_VIEW() price: PriceView;
  @ApiRate({ example: '7.2500', nullable: true }) effectiveRate: string | null;
  @ApiProperty({ enum: PAYMENT_METHODS, isArray: true }) paymentMethods: PaymentMethod[];
  @ApiProperty({ enum: OFFER_STATUSES }) status: OfferStatus;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ type: MakerView }) maker: MakerView;
}
