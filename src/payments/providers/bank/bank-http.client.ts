import { Inject, Injectable, Optional } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { formatAmount, parseAmount } from '../../../common/money';
import { bankConfig } from '../../../config';
import { ProviderHealth } from '../../../provider-health/provider-health.service';
import { providerRequest, ProviderResponse } from '../provider-http';
import { BankApiError, BankPort, BankTransfer } from './bank.port';

const TIMEOUT_MS = 10000;

interface TransferBody {
  id: string;
  direction: 'incoming' | 'return';
  reference: string | null;
  amount: string;
  status: 'pending' | 'settled' | 'failed' | 'returned';
  returnsTransferId: string | null;
  settledAt?: string | null;
}

const toTransfer = (body: TransferBody): BankTransfer => ({
  transferId: body.id,
  direction: body.direction,
  reference: body.reference,
  amountUsd: parseAmount(body.amount, 'USD'),
  status: body.status,
  returnsTransferId: body.returnsTransferId,
  settledAt: body.settledAt ? new Date(body.settledAt) : null,
});

/** The bank's HTTP API (the sandbox mock's by default): our key as a Bearer token, returns keyed by `Idempotency-Key`. */
@Injectable()
export class BankHttpClient implements BankPort {
  constructor(
    @Inject(bankConfig.KEY) private readonly config: ConfigType<typeof bankConfig>,
    @Optional() private readonly health?: ProviderHealth,
  ) {}

  async getTransfer(transferId: string): Promise<BankTransfer> {
    return toTransfer(await this.call<TransferBody>('GET', `/v1/transfers/${encodeURIComponent(transferId)}`));
  }

  async incomingByReference(reference: string): Promise<BankTransfer[]> {
    const body = await this.call<{ data: TransferBody[] }>('GET', `/v1/transfers?reference=${encodeURIComponent(reference)}`);
    return body.data.map(toTransfer);
  }

  async settledIncoming(input: {
    from: Date;
    to: Date;
    page: number;
    limit: number;
  }): Promise<{ transfers: BankTransfer[]; hasMore: boolean }> {
    const query = new URLSearchParams({
      settledFrom: input.from.toISOString(),
      settledTo: input.to.toISOString(),
      page: String(input.page),
      limit: String(input.limit),
    });
    const body = await this.call<{ data: TransferBody[]; hasMore?: boolean }>('GET', `/v1/transfers?${query.toString()}`);
    return { transfers: body.data.map(toTransfer), hasMore: body.hasMore === true };
  }

  async returnTransfer(input: { transferId: string; amountUsd: bigint; requestId: string }): Promise<BankTransfer> {
    return toTransfer(
      await this.call<TransferBody>('POST', '/v1/returns', {
        idempotencyKey: input.requestId,
        body: { transferId: input.transferId, amount: formatAmount(input.amountUsd, 'USD') },
      }),
    );
  }

  /** Every call's outcome feeds the bank's health, as for PayPal. */
  private async call<T>(method: string, path: string, options: { body?: unknown; idempotencyKey?: string } = {}): Promise<T> {
    try {
      const result = await this.callOnce<T>(method, path, options);
      await this.health?.succeeded('bank');
      return result;
    } catch (error) {
      if (error instanceof BankApiError && error.retryable && error.status !== 429) await this.health?.failed('bank');
      else if (error instanceof BankApiError) await this.health?.succeeded('bank');
      throw error;
    }
  }

  private async callOnce<T>(method: string, path: string, options: { body?: unknown; idempotencyKey?: string }): Promise<T> {
    let response: ProviderResponse;
    try {
      response = await providerRequest(`${this.config.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.config.apiKey}`,
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        timeoutMs: TIMEOUT_MS,
      });
    } catch (error) {
      throw new BankApiError(0, 'network_error', `The bank could not be reached: ${(error as Error).message}`);
    }
    const text = response.text;
    let body: { code?: string; detail?: string } & Record<string, unknown> = {};
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the status
    }
    if (!response.ok)
      throw new BankApiError(
        response.status,
        body.code ?? `http_${response.status}`,
        body.detail ?? `The bank answered ${response.status}`,
      );
    return body as T;
  }
}
