import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { COMMENT_MAX_CHARS } from '../rating-content';
import type { RaterRole } from '../rating.types';

export class RateTradeDto {
  @ApiProperty({ minimum: 1, maximum: 5, description: 'a whole number of stars' })
  @IsDefined()
  @IsInt()
  @Min(1)
  @Max(5)
  score: number;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: COMMENT_MAX_CHARS,
    description: 'about the other party; stored encrypted, erased if the rater deletes their account',
  })
  @IsOptional()
  @IsString()
  @MaxLength(COMMENT_MAX_CHARS)
  comment?: string | null;
}

export class RatingView {
  @ApiProperty({ format: 'uuid' }) tradeId: string;
  @ApiProperty({ minimum: 1, maximum: 5 }) score: number;
  @ApiProperty({ type: String, nullable: true }) comment: string | null;
  @ApiProperty() createdAt: string;
}

export class ReceivedRatingView {
  @ApiProperty({ minimum: 1, maximum: 5 }) score: number;
  @ApiProperty({ type: String, nullable: true, description: 'null when none was given, or once its rater deleted their account' })
  comment: string | null;
  @ApiProperty({ enum: ['traveler', 'counterparty'], description: 'the rater’s side of the trade' }) raterRole: RaterRole;
  @ApiProperty() createdAt: string;
}

export class ReceivedRatingsPage {
  @ApiProperty({ type: [ReceivedRatingView] }) data: ReceivedRatingView[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

/** The account export's ratings: given (as rated, with the trade) and received (with the trade). */
export type ExportedRatings = {
  given: RatingView[];
  received: (ReceivedRatingView & { tradeId: string })[];
};
