import { Body, Controller, Get, Headers, HttpCode, Param, Post, Put, Query, Req } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ApiMoney } from '../../common/http/api-schema';
import { IsBoolean, IsDefined, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { Public } from '../../common/auth/decorators';
import { DomainError } from '../../common/errors';
import { InputParser } from '../../market/market-input';
import { FaultsService } from '../faults.service';
import { BankMockService, BankTransferView } from './bank-mock.service';

export const BANK_MOCK_PREFIX = '/sandbox/bank';

// A time PostgreSQL can hold (a far-off year would fail the query rather than be refused).
const plausible = (date: Date) => !Number.isNaN(date.getTime()) && date.getUTCFullYear() >= 1970 && date.getUTCFullYear() <= 9999;

export class IncomingTransferDto {
  @ApiProperty({ example: 'YB-7K2Q9XMD4T', description: "the trade's funding reference, as the sender typed it" })
  @IsDefined()
  @IsString()
  @MaxLength(64)
  reference: string;

  @ApiMoney({ example: '138.12', input: true })
  @IsDefined()
  amountUsd: unknown;

  @ApiPropertyOptional({ example: 'DE89370400440532013000', description: "the sender's account (money is returned there)" })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/^[A-Za-z0-9-]+$/, { message: 'senderAccount has letters, digits and dashes only' })
  senderAccount?: string;
}

export class BankAccountDto {
  @ApiProperty({ description: 'closed: money returned to it settles, then comes back' })
  @IsDefined()
  @IsBoolean()
  closed: boolean;
}

export class BankReturnDto {
  @ApiProperty({ description: 'the incoming transfer to send back' })
  @IsDefined()
  @IsString()
  @MaxLength(64)
  transferId: string;

  @ApiMoney({ example: '10.00', input: true })
  @IsDefined()
  amount: unknown;
}

/**
 * The bank, in sandbox mode: `POST /sandbox/bank/incoming` is someone's bank sending money (API.md); under
 * `/sandbox/bank/v1` is the bank's API as the platform calls it (our key as a Bearer token; returns keyed by
 * `Idempotency-Key`). Faults from `PUT /sandbox/faults` act on the API calls.
 */
class IncomingTransferView {
  @ApiProperty() transferId: string;
  @ApiProperty({ enum: ['pending'] }) status: string;
}

class BankAccountView {
  @ApiProperty() account: string;
  @ApiProperty() closed: boolean;
}

@ApiTags('sandbox')
@Public()
@Controller('sandbox/bank')
export class BankMockController {
  constructor(
    private readonly bank: BankMockService,
    private readonly faults: FaultsService,
  ) {}

  @Post('incoming')
  @HttpCode(202)
  @ApiOperation({ summary: 'Sandbox: a bank transfer arrives; it settles after the configured delay' })
  @ApiAcceptedResponse({ type: IncomingTransferView, description: 'settles after the configured delay' })
  async incoming(@Body() body: IncomingTransferDto): Promise<{ transferId: string; status: string }> {
    const input = new InputParser();
    const amountCents = input.amount(body.amountUsd, 'amountUsd', 'USD');
    input.done();
    const transfer = await this.bank.receive({
      reference: body.reference,
      amountCents,
      senderAccount: body.senderAccount ?? 'SANDBOX-SENDER',
    });
    return { transferId: transfer.id, status: transfer.status };
  }

  @Put('accounts/:account')
  @ApiOperation({ summary: 'Sandbox: close a sender account (returns to it bounce) or open it again' })
  @ApiOkResponse({ type: BankAccountView })
  async account(@Param('account') account: string, @Body() body: BankAccountDto): Promise<{ account: string; closed: boolean }> {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(account)) {
      throw DomainError.validation([{ field: 'account', code: 'invalid', message: 'An account has letters, digits and dashes only' }]);
    }
    return this.bank.setAccount(account, body.closed);
  }

  @Get('v1/transfers/:id')
  @ApiOperation({ summary: 'Bank API: one transfer' })
  @ApiOkResponse({ description: 'the transfer' })
  async transfer(@Req() request: FastifyRequest, @Param('id') id: string): Promise<BankTransferView> {
    await this.guard(request);
    return this.bank.find(id);
  }

  @Get('v1/transfers')
  @ApiOperation({
    summary:
      'Bank API: incoming transfers with a reference, the returns of a transfer (returnsTransferId), or (settledFrom, settledTo, page, limit) those settled in a window',
  })
  @ApiOkResponse({ description: '{data: [transfers]} (a window: and hasMore)' })
  async transfers(
    @Req() request: FastifyRequest,
    @Query() query: Record<string, unknown>,
  ): Promise<{ data: BankTransferView[]; hasMore?: boolean }> {
    await this.guard(request);
    if (query.settledFrom !== undefined || query.settledTo !== undefined) return this.settledWindow(query);
    const returnsOf = query.returnsTransferId;
    if (returnsOf !== undefined) {
      if (typeof returnsOf !== 'string' || returnsOf.length === 0 || returnsOf.length > 64) {
        throw DomainError.validation([{ field: 'returnsTransferId', code: 'invalid', message: 'returnsTransferId is a transfer id' }]);
      }
      return { data: await this.bank.returnsOf(returnsOf) };
    }
    const reference = query.reference;
    if (typeof reference !== 'string' || reference.length === 0 || reference.length > 64) {
      throw DomainError.validation([{ field: 'reference', code: 'required', message: 'reference is required' }]);
    }
    return { data: await this.bank.incomingByReference(reference) };
  }

  private settledWindow(query: Record<string, unknown>): Promise<{ data: BankTransferView[]; hasMore: boolean }> {
    const from = new Date(String(query.settledFrom));
    const to = new Date(String(query.settledTo));
    const page = Number(query.page ?? 1);
    const limit = Number(query.limit ?? 100);
    const errors = [
      ...(!plausible(from) ? [{ field: 'settledFrom', code: 'invalid', message: 'settledFrom is an ISO-8601 time' }] : []),
      ...(!plausible(to) ? [{ field: 'settledTo', code: 'invalid', message: 'settledTo is an ISO-8601 time' }] : []),
      ...(!Number.isInteger(page) || page < 1 || page > 10000 ? [{ field: 'page', code: 'invalid', message: 'page is 1 to 10000' }] : []),
      ...(!Number.isInteger(limit) || limit < 1 || limit > 500 ? [{ field: 'limit', code: 'invalid', message: 'limit is 1 to 500' }] : []),
    ];
    if (errors.length > 0) throw DomainError.validation(errors);
    return this.bank.settledIncoming(from, to, page, limit);
  }

  @Post('v1/returns')
  @HttpCode(201)
  @ApiOperation({ summary: 'Bank API: send (part of) an incoming transfer back to its sender (Idempotency-Key required)' })
  async createReturn(
    @Req() request: FastifyRequest,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Body() body: BankReturnDto,
  ): Promise<BankTransferView> {
    const decision = await this.guard(request);
    if (!idempotencyKey || idempotencyKey.length > 200) {
      throw DomainError.validation([{ field: 'Idempotency-Key', code: 'required', message: 'A return needs an Idempotency-Key' }]);
    }
    const input = new InputParser();
    const amountCents = input.amount(body.amount, 'amount', 'USD');
    input.done();
    const created = await this.bank.createReturn(idempotencyKey, { transferId: body.transferId, amountCents });
    if (decision.failAfter) throw new DomainError('internal_error', 'The bank failed');
    return created;
  }

  /** Faults first (down, errors, latency), then the key; "fail after success" is the caller's to apply once the work is done. */
  private async guard(request: FastifyRequest): Promise<{ failAfter: boolean }> {
    const decision = await this.faults.next('bank', request.url.split('?')[0].slice(BANK_MOCK_PREFIX.length));
    if (decision.kind === 'down') throw new DomainError('service_unavailable', 'The bank is down');
    if (decision.kind === 'error') throw new DomainError('internal_error', 'The bank failed');
    if (decision.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, decision.latencyMs));
    this.bank.authenticate(request.headers.authorization);
    return { failAfter: decision.failAfter };
  }
}
