import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MISMATCH } from '../mismatch';

const FREE_FORM = { type: 'object', additionalProperties: true } as const;

export class MismatchView {
  @ApiPropertyOptional({ format: 'uuid' }) tradeId?: string;
  @ApiProperty({ enum: Object.values(MISMATCH) }) kind: string;
  @ApiProperty({ ...FREE_FORM, nullable: true, description: 'what the books say' }) ledger: Record<string, unknown> | null;
  @ApiProperty({ ...FREE_FORM, nullable: true, description: 'what the provider says' }) provider: Record<string, unknown> | null;
  @ApiProperty() detail: string;
  @ApiProperty() openedAt: string;
  @ApiProperty() lastSeenAt: string;
}

/** The last reconciliation run (null fields before the first) and every mismatch still open. */
export class ReconciliationView {
  @ApiProperty({ type: 'integer', nullable: true }) runId: number | null;
  @ApiProperty({ type: String, nullable: true }) ranAt: string | null;
  @ApiProperty({ type: String, nullable: true }) startedAt: string | null;
  @ApiProperty({ enum: ['schedule', 'operator'], nullable: true, type: String }) trigger: string | null;
  @ApiProperty({ type: 'integer' }) checkedTrades: number;
  @ApiProperty({ type: 'integer' }) inconclusiveTrades: number;
  @ApiProperty({ type: 'integer' }) opened: number;
  @ApiProperty({ type: 'integer' }) resolved: number;
  @ApiProperty({ ...FREE_FORM, nullable: true, description: 'platform totals compared, and the searches that failed' })
  totals: Record<string, unknown> | null;
  @ApiProperty({ description: 'clean: every trade answered for, both searches done, nothing open' }) ok: boolean;
  @ApiProperty({ type: 'integer' }) openMismatches: number;
  @ApiProperty({ type: [MismatchView] }) mismatches: MismatchView[];
}

export class ReconciliationQueuedView {
  @ApiProperty({ enum: [true] }) queued: true;
  @ApiProperty() jobId: string;
}
