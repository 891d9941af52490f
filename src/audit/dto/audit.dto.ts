import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsUUID } from 'class-validator';
import { PageQuery } from '../../common/http/pagination';

export class AuditQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID('all', { message: 'operatorId must be a UUID' })
  operatorId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID('all', { message: 'tradeId must be a UUID' })
  tradeId?: string;
}

/** One entry of the operators' audit log. */
export class AuditEntryView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) operatorId: string | null;
  @ApiProperty({ example: 'dispute.resolve' }) action: string;
  @ApiProperty({ example: 'trade' }) targetType: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) targetId: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) tradeId: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) detail: Record<string, unknown>;
}
