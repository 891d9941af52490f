import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class LedgerViolationView {
  @ApiProperty({ example: 'entries_sum_to_zero' }) invariant: string;
  @ApiProperty() detail: string;
  @ApiPropertyOptional({ format: 'uuid' }) tradeId?: string;
}

/** The ledger check: `ok` when no invariant is broken. */
export class LedgerCheckView {
  @ApiProperty() ok: boolean;
  @ApiProperty({ type: [LedgerViolationView] }) violations: LedgerViolationView[];
}
