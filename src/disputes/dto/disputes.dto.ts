import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ApiMoney } from '../../common/http/api-schema';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { PageQuery } from '../../common/http/pagination';
import { PAYMENT_METHODS } from '../../market/market.types';
import { TRADE_STATES } from '../../trades/trade.state-machine';
import { OptionalAsSent, OptionalOneOf } from '../../common/http/optional-fields';
import { DISPUTE_REASONS, DISPUTE_STATUSES, PARTY_REASONS, STATEMENT_LIMITS } from '../dispute.types';
import type { DisputeOutcome, DisputeReason, DisputeStatus } from '../dispute.types';

export class AttachmentDto {
  @ApiProperty({ example: 'transfer-receipt.png' })
  @IsDefined()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;

  @ApiProperty({ enum: STATEMENT_LIMITS.contentTypes })
  @IsDefined()
  @IsIn(STATEMENT_LIMITS.contentTypes)
  contentType: string;

  @ApiProperty({ minimum: 1, maximum: STATEMENT_LIMITS.attachmentBytes })
  @IsDefined()
  @IsInt()
  @Min(1)
  @Max(STATEMENT_LIMITS.attachmentBytes)
  sizeBytes: number;

  @ApiProperty({ description: 'hex SHA-256 of the file', example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' })
  @IsDefined()
  @IsString()
  @Matches(/^[0-9a-f]{64}$/, { message: 'sha256 is 64 lower-case hex characters' })
  sha256: string;
}

export class StatementDto {
  @ApiProperty({ maxLength: STATEMENT_LIMITS.textChars })
  @IsDefined()
  @IsString()
  @MinLength(1)
  @MaxLength(STATEMENT_LIMITS.textChars)
  text: string;

  @ApiPropertyOptional({ type: [AttachmentDto], maxItems: STATEMENT_LIMITS.attachmentsPerStatement })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(STATEMENT_LIMITS.attachmentsPerStatement)
  @ValidateNested({ each: true })
  @Type(() => AttachmentDto)
  attachments?: AttachmentDto[];
}

export class OpenDisputeDto {
  @ApiProperty({ enum: PARTY_REASONS })
  @IsDefined()
  @IsIn(PARTY_REASONS)
  reason: (typeof PARTY_REASONS)[number];

  @ApiProperty({ maxLength: STATEMENT_LIMITS.textChars, description: 'what happened, in the party’s words' })
  @IsDefined()
  @IsString()
  @MinLength(1)
  @MaxLength(STATEMENT_LIMITS.textChars)
  statement: string;
}

export class AssignDisputeDto {
  @ApiPropertyOptional({ description: 'take over a dispute assigned to another operator (audited)' })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

export class ResolveDisputeDto {
  @ApiProperty({ enum: ['release', 'refund', 'split'] })
  @IsDefined()
  @IsIn(['release', 'refund', 'split'])
  outcome: 'release' | 'refund' | 'split';

  @OptionalAsSent('money', { example: '50.01', description: 'split only: refunded to the traveler' })
  travelerUsd?: unknown;

  @OptionalAsSent('money', { example: '88.11', description: 'split only: paid to the counterparty, less the fee' })
  counterpartyUsd?: unknown;

  @ApiProperty({ maxLength: 2000, description: 'why: kept in the audit log and on the trade timeline' })
  @IsDefined()
  @IsString()
  @MinLength(1)
  @MaxLength(2000)
  note: string;
}

export class DisputeQueueQuery extends PageQuery {
  @OptionalOneOf(DISPUTE_STATUSES)
  status?: DisputeStatus;
}

export class ActorView {
  @ApiProperty({ enum: ['traveler', 'counterparty', 'system'] }) kind: 'traveler' | 'counterparty' | 'system';
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) id: string | null;
}

export class AttachmentView {
  @ApiProperty({ type: String, nullable: true, description: 'null once its statement is erased' }) name: string | null;
  @ApiProperty() contentType: string;
  @ApiProperty() sizeBytes: number;
  @ApiProperty() sha256: string;
}

export class StatementView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ type: ActorView }) author: ActorView;
  @ApiProperty({ type: String, nullable: true, description: 'null once erased (its author deleted their account)' }) text: string | null;
  @ApiProperty({ description: 'the text was erased' }) erased: boolean;
  @ApiProperty({ type: [AttachmentView] }) attachments: AttachmentView[];
  @ApiProperty() createdAt: string;
}

export class DisputeView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tradeId: string;
  @ApiProperty({ enum: DISPUTE_STATUSES }) status: DisputeStatus;
  @ApiProperty({ enum: DISPUTE_REASONS }) reason: DisputeReason;
  @ApiProperty({ type: ActorView }) openedBy: ActorView;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'the operator holding it' }) assignedTo: string | null;
  @ApiProperty({ enum: ['release', 'refund', 'split'], nullable: true }) outcome: DisputeOutcome | null;
  @ApiMoney({ example: '50.01', nullable: true }) travelerUsd: string | null;
  @ApiMoney({ example: '88.11', nullable: true }) counterpartyUsd: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ nullable: true, type: String }) resolvedAt: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'the resolver’s reasons (also on the trade’s timeline)' })
  resolutionNote: string | null;
  @ApiPropertyOptional({ type: [StatementView], description: 'both sides’, oldest first' }) statements?: StatementView[];
}

export class QueueTradeView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: TRADE_STATES }) state: string;
  @ApiMoney({ example: '138.12' }) amountUsd: string;
  @ApiMoney({ example: '1000.00' }) amountCny: string;
  @ApiProperty({ enum: PAYMENT_METHODS }) paymentMethod: string;
  @ApiProperty({ format: 'uuid' }) travelerId: string;
  @ApiProperty({ format: 'uuid' }) counterpartyId: string;
}

export class QueueItemView extends DisputeView {
  @ApiProperty({ description: 'seconds since it was opened' }) ageSeconds: number;
  @ApiProperty({ type: QueueTradeView }) trade: QueueTradeView;
}

export class DisputeQueuePage {
  @ApiProperty({ type: [QueueItemView] }) data: QueueItemView[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}
