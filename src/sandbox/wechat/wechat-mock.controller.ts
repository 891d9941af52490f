import { Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ApiMoney } from '../../common/http/api-schema';
import { Inject } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { IsDefined, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../../common/auth/decorators';
import { InputParser } from '../../market/market-input';
import { wechatConfig } from '../../config';
import { FaultsService } from '../faults.service';
import { registerMockErrorFormat } from '../mock-error-names';
import { WechatMerchantKey } from '../../payments/providers/wechat/wechat-merchant-key';
import {
  aesGcmEncrypt,
  nonce,
  parseAuthorization,
  requestMessage,
  responseMessage,
  rsaSign,
  rsaVerify,
  withinTolerance,
} from '../../payments/providers/wechat/wechatpay-crypto';
import { WechatMockService } from './wechat-mock.service';

export const WECHAT_MOCK_PREFIX = '/sandbox/wechat';

// Errors raised before a handler runs also answer WeChat's way.
registerMockErrorFormat(
  `${WECHAT_MOCK_PREFIX}/v3`,
  { notFound: 'RESOURCE_NOT_EXISTS', unauthenticated: 'SIGN_ERROR', serverError: 'SYSTEM_ERROR', invalid: 'PARAM_ERROR' },
  (code, problem) => ({ code, message: problem.detail }),
);

const WECHAT_ID = /^[A-Za-z][A-Za-z0-9_-]{5,63}$/;

export class WalletDto {
  @ApiProperty({ example: 'wx_traveler_01' })
  @IsDefined()
  @IsString()
  @Matches(WECHAT_ID, { message: 'wechatId is 6 to 64 letters, digits, _ or -, starting with a letter' })
  wechatId: string;

  @ApiMoney({ example: '5000.00', input: true })
  @IsDefined()
  balanceCny: unknown;
}

export class WalletTransferDto {
  @ApiProperty()
  @IsDefined()
  @IsString()
  @MaxLength(64)
  fromWechatId: string;

  @ApiProperty()
  @IsDefined()
  @IsString()
  @MaxLength(64)
  toWechatId: string;

  @ApiMoney({ example: '1000.00', input: true })
  @IsDefined()
  amountCny: unknown;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  memo?: string;

  /** Sandbox only: the transfer stays PROCESSING this long, then settles (SUCCESS, and its notification). */
  @ApiPropertyOptional({ minimum: 0, maximum: 86400000, description: 'ms the transfer stays PROCESSING before it succeeds' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86400000)
  processingMs?: number;
}

class WechatError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
  ) {}
}

/**
 * WeChat, in sandbox mode. `/sandbox/wechat/wallets` and `/transfers` are our sandbox actions (problem details):
 * wallets with balances, and what a user does in the WeChat app. Under `/sandbox/wechat/v3` is the WeChat Pay v3
 * API the platform calls, in WeChat's conventions: the merchant's signed `Authorization` checked (both canonical
 * URL forms, serial in any case, five minutes), every 2xx answer signed with the `Wechatpay-*` headers, errors
 * `{code, message}`, and the platform certificates encrypted with the APIv3 key.
 */
class WalletView {
  @ApiProperty({ example: 'wx_traveler_01' }) wechatId: string;
  @ApiMoney({ example: '5000.00' }) balanceCny: string;
}

class WalletTransferView {
  @ApiProperty() transferId: string;
}

@ApiTags('sandbox')
@Public()
@Controller('sandbox/wechat')
export class WechatMockController {
  constructor(
    private readonly wechat: WechatMockService,
    private readonly faults: FaultsService,
    private readonly merchantKey: WechatMerchantKey,
    @Inject(wechatConfig.KEY) private readonly config: ConfigType<typeof wechatConfig>,
  ) {}

  @Post('wallets')
  @ApiOperation({ summary: 'Sandbox: a WeChat wallet exists with this balance' })
  @ApiCreatedResponse({ type: WalletView })
  async createWallet(@Body() body: WalletDto): Promise<{ wechatId: string; balanceCny: string }> {
    const input = new InputParser();
    const balance = input.amount(body.balanceCny, 'balanceCny', 'CNY', { zero: true });
    input.done();
    return this.wechat.setWallet(body.wechatId, balance);
  }

  @Get('wallets/:wechatId')
  @ApiOperation({ summary: 'Sandbox: a wallet and its balance' })
  @ApiOkResponse({ type: WalletView })
  wallet(@Param('wechatId') wechatId: string): Promise<{ wechatId: string; balanceCny: string }> {
    return this.wechat.wallet(wechatId);
  }

  @Post('transfers')
  @ApiOperation({ summary: 'Sandbox: one wallet sends CNY to another (what the counterparty does in WeChat)' })
  @ApiCreatedResponse({ type: WalletTransferView })
  async transfer(@Body() body: WalletTransferDto): Promise<{ transferId: string }> {
    const input = new InputParser();
    const amountFen = input.amount(body.amountCny, 'amountCny', 'CNY');
    input.done();
    return this.wechat.transfer({
      from: body.fromWechatId,
      to: body.toWechatId,
      amountFen,
      memo: body.memo,
      processingMs: body.processingMs,
    });
  }

  @Get('v3/wallet-transfers/:transferId')
  @ApiOperation({ summary: 'WeChat Pay v3 (our port): one wallet transfer' })
  async walletTransfer(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Param('transferId') transferId: string): Promise<void> {
    await this.run(request, reply, async () => {
      const transfer = await this.wechat.findTransfer(transferId);
      if (!transfer) throw new WechatError(404, 'RESOURCE_NOT_EXISTS', 'No such transfer');
      return transfer;
    });
  }

  @Get('v3/wallet-transfers')
  @ApiOperation({ summary: 'WeChat Pay v3 (our port): transfers from one wallet to another since a time, newest first' })
  async walletTransfers(
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @Query() query: Record<string, string | undefined>,
  ): Promise<void> {
    await this.run(request, reply, async () => {
      const since = new Date(query.since ?? '');
      if (!query.from_wechat_id || !query.to_wechat_id || Number.isNaN(since.getTime())) {
        throw new WechatError(400, 'PARAM_ERROR', 'from_wechat_id, to_wechat_id and since (RFC 3339) are required');
      }
      return { data: await this.wechat.searchTransfers(query.from_wechat_id, query.to_wechat_id, since) };
    });
  }

  @Get('v3/certificates')
  @ApiOperation({ summary: 'WeChat Pay v3: the platform certificates, encrypted with the APIv3 key' })
  async certificates(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.run(request, reply, async () => {
      const identity = await this.wechat.platformIdentity();
      return {
        data: [
          {
            serial_no: identity.serial,
            effective_time: new Date(Date.now() - 86400000).toISOString(),
            expire_time: new Date(Date.now() + 5 * 365 * 86400000).toISOString(),
            encrypt_certificate: aesGcmEncrypt(this.config.apiV3Key, identity.certificatePem, 'certificate'),
          },
        ],
      };
    });
  }

  /** Faults, then the merchant's signature, then the work; the answer signed with the platform key. */
  private async run(request: FastifyRequest, reply: FastifyReply, work: () => Promise<unknown>): Promise<void> {
    let body: unknown;
    try {
      const decision = await this.faults.next('wechat', request.url.split('?')[0].slice(WECHAT_MOCK_PREFIX.length));
      if (decision.kind === 'down') throw new WechatError(503, 'SYSTEM_ERROR', 'System is busy, please try again later');
      if (decision.kind === 'error') throw new WechatError(500, 'SYSTEM_ERROR', 'System error');
      if (decision.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, decision.latencyMs));
      this.authenticate(request);
      body = await work();
    } catch (error) {
      if (!(error instanceof WechatError)) throw error;
      void reply.status(error.status).header('content-type', 'application/json').send({ code: error.code, message: error.message });
      return;
    }
    const raw = JSON.stringify(body);
    const identity = await this.wechat.platformIdentity();
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const nonceStr = nonce();
    void reply
      .status(200)
      .header('content-type', 'application/json')
      .header('wechatpay-timestamp', timestamp)
      .header('wechatpay-nonce', nonceStr)
      .header('wechatpay-serial', identity.serial)
      .header('wechatpay-signature', rsaSign(identity.privateKey, responseMessage(timestamp, nonceStr, raw)))
      .header('request-id', nonce())
      .send(raw);
  }

  /** The merchant's `Authorization`: its mchid and serial (any case), a fresh timestamp, and the signature over either URL form. */
  private authenticate(request: FastifyRequest): void {
    const auth = parseAuthorization(request.headers.authorization);
    if (!auth) throw new WechatError(401, 'SIGN_ERROR', 'Authorization is missing or not WECHATPAY2-SHA256-RSA2048');
    if (auth.mchid !== this.config.mchid || auth.serial_no.toUpperCase() !== this.config.merchantSerial.toUpperCase()) {
      throw new WechatError(401, 'SIGN_ERROR', 'Unknown merchant or certificate serial');
    }
    if (!withinTolerance(auth.timestamp)) throw new WechatError(401, 'SIGN_ERROR', 'The signature timestamp is out of range');
    // The exact bytes the merchant signed (GETs sign an empty body).
    const body = (request as FastifyRequest & { rawBody?: Buffer }).rawBody?.toString('utf8') ?? '';
    const fullPath = request.url;
    const stripped = fullPath.startsWith(WECHAT_MOCK_PREFIX) ? fullPath.slice(WECHAT_MOCK_PREFIX.length) : fullPath;
    const publicKey = this.merchantKey.publicKey();
    const signed = [fullPath, stripped].some((url) =>
      rsaVerify(publicKey, requestMessage(request.method, url, auth.timestamp, auth.nonce_str, body), auth.signature),
    );
    if (!signed) throw new WechatError(401, 'SIGN_ERROR', 'The request signature does not verify');
  }
}
