import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsDefined, IsIn, IsString, Matches, MaxLength } from 'class-validator';
import type { AuthUser } from '../common/auth/auth-user';
import { AccountManagement, CurrentUser, Roles } from '../common/auth/decorators';
import { UuidParam } from '../common/http/uuid-param';
import { NeverReplayed } from '../idempotency/never-replayed.decorator';
import { HANDLE_FIELDS, type HandleField } from '../trades/handle-reveals.repository';
import { OperatorReveals, REVEAL_REASON_MAX_CHARS, RevealView } from './operator-reveals.service';

export class RevealHandleDto {
  @ApiProperty({ enum: HANDLE_FIELDS })
  @IsDefined()
  @IsIn(HANDLE_FIELDS)
  field: HandleField;

  @ApiProperty({ maxLength: REVEAL_REASON_MAX_CHARS, description: 'why: kept in the audit log (never on the timeline)' })
  @IsDefined()
  @IsString()
  @Matches(/\S/, { message: 'reason must not be blank' })
  @MaxLength(REVEAL_REASON_MAX_CHARS)
  reason: string;
}

class RevealResponse implements RevealView {
  @ApiProperty({ enum: HANDLE_FIELDS }) field: HandleField;
  @ApiProperty() value: string;
}

@ApiTags('admin')
@ApiBearerAuth()
@Roles('operator')
@Controller('v1/admin/trades')
export class AdminRevealsController {
  constructor(private readonly reveals: OperatorReveals) {}

  /** Never answered from idempotency storage: every call is a new, audited reveal. No scoped API key may reveal. */
  @Post(':id/reveal')
  @AccountManagement()
  @HttpCode(200)
  @NeverReplayed()
  @ApiOkResponse({ type: RevealResponse, description: 'A handle erased after retention → 409 handle_erased' })
  reveal(@CurrentUser() operator: AuthUser, @UuidParam() id: string, @Body() body: RevealHandleDto): Promise<RevealView> {
    return this.reveals.reveal(operator, id, body.field, body.reason);
  }
}
