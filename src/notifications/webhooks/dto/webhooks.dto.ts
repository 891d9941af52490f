import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsDefined,
  IsIn,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
  MinLength,
} from 'class-validator';
import { PageQuery } from '../../../common/http/pagination';
import { OptionalOneOf } from '../../../common/http/optional-fields';
import { EVENT_TYPES } from '../../../events/event-types';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

export class CreateWebhookEndpointDto {
  @ApiProperty({
    example: 'https://example.com/hooks/yuanbridge',
    maxLength: 2048,
    description: 'http or https; its host must resolve only to public addresses (400 webhook_url_not_allowed otherwise)',
  })
  @IsDefined()
  @IsString()
  @MinLength(1)
  @MaxLength(2048)
  url: string;

  @ApiPropertyOptional({ enum: EVENT_TYPES, isArray: true, description: 'the event types to receive; every type when left out' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn(EVENT_TYPES, { each: true, message: `each event type must be one of ${EVENT_TYPES.join(', ')}` })
  events?: string[];
}

export class WebhookEndpointView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() url: string;
  @ApiProperty({ enum: EVENT_TYPES, isArray: true, nullable: true, description: 'null: every type, those added later too' })
  events: string[] | null;
  @ApiProperty({ description: 'false once disabled after WEBHOOK_DISABLE_AFTER_FAILURES failed events in a row, or deleted' })
  enabled: boolean;
  @ApiProperty() createdAt: string;
}

export class CreatedWebhookEndpointView extends WebhookEndpointView {
  @ApiProperty({ description: 'the signing secret of X-Signature: shown only in this answer' }) secret: string;
}

export class WebhookDeliveryView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) endpointId: string;
  @ApiProperty({ format: 'uuid' }) eventId: string;
  @ApiProperty({ enum: EVENT_TYPES }) eventType: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status: (typeof DELIVERY_STATUSES)[number];
  @ApiProperty() attempts: number;
  @ApiProperty({ nullable: true, type: Number }) lastStatusCode: number | null;
  @ApiProperty({ nullable: true, type: String }) lastError: string | null;
  @ApiProperty({ nullable: true, type: String }) nextAttemptAt: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) deliveredAt: string | null;
}

export class WebhookDeliveriesQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  endpointId?: string;

  @OptionalOneOf(EVENT_TYPES)
  eventType?: string;

  @OptionalOneOf(DELIVERY_STATUSES)
  status?: (typeof DELIVERY_STATUSES)[number];
}
