import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { createHash, KeyObject, randomInt, randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { DomainError } from '../../common/errors';
import { formatAmount } from '../../common/money';
import { WECHATPAY_PUBLIC_KEY_SERIAL_PREFIX, wechatConfig } from '../../config';
import { OutboxMessage, OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { webhookCopies } from '../faults';
import { FaultsService } from '../faults.service';
import { loadOrMakeIdentity, loadOrMakeKeyPair, SigningIdentity } from '../sandbox-keys';
import { SandboxKeysRepository } from '../sandbox-keys.repository';
import { SandboxUrls } from '../sandbox-urls';
import { aesGcmEncrypt } from '../../payments/providers/wechat/wechatpay-crypto';
import { wechatNotifyJobId, wechatTransferSettleJobId } from '../../queues/job-ids';
import { TransferRow, WechatMockRepository } from './wechat-mock.repository';
import { Transactions } from '../../database/transactions';

export const WECHAT_PLATFORM_KEY_NAME = 'WECHATPAY-PLATFORM-1';
export const WECHAT_PUBLIC_KEY_NAME = 'WECHATPAY-PUBLIC-KEY-1';

/** The WeChat Pay public key of public-key mode, as the merchant platform shows it: its id and PEM. */
export interface WechatPublicKey {
  publicKeyId: string;
  publicKeyPem: string;
  privateKey: KeyObject;
}

/** What answers and notifications are signed with: the key, and the serial sent in `Wechatpay-Serial`. */
export interface WechatSigner {
  serial: string;
  privateKey: KeyObject;
}

/** A wallet transfer as API.md's WeChat query answers it (amounts in fen, WeChat's field names). */
export interface WalletTransferView {
  transfer_id: string;
  from_wechat_id: string;
  to_wechat_id: string;
  amount: number;
  state: TransferRow['state'];
  create_time: string;
  update_time: string;
}

const view = (row: TransferRow): WalletTransferView => ({
  transfer_id: row.id,
  from_wechat_id: row.from_wechat_id,
  to_wechat_id: row.to_wechat_id,
  amount: Number(row.amount_fen),
  state: row.state,
  create_time: row.create_time.toISOString(),
  update_time: row.update_time.toISOString(),
});

/**
 * Simulated WeChat wallets and transfers between them. A transfer debits and credits in one statement under
 * both wallets' row locks (taken in id order), refuses an unknown wallet or an insufficient balance, and
 * queues its notification through the outbox in that statement, so a crash never loses one.
 */
@Injectable()
export class WechatMockService {
  private identity?: Promise<SigningIdentity>;
  private publicKeyPair?: Promise<WechatPublicKey>;

  constructor(
    private readonly transactions: Transactions,
    private readonly wallets: WechatMockRepository,
    private readonly outbox: OutboxService,
    private readonly faults: FaultsService,
    @Inject(wechatConfig.KEY) private readonly config: ConfigType<typeof wechatConfig>,
    private readonly urls: SandboxUrls,
    private readonly keys: SandboxKeysRepository,
  ) {}

  /** The platform's signing key and certificate (WeChat's side), made once and shared by every process. */
  platformIdentity(): Promise<SigningIdentity> {
    this.identity ??= loadOrMakeIdentity(this.keys, WECHAT_PLATFORM_KEY_NAME, 'wechatpay.sandbox.yuanbridge.local').catch((error) => {
      this.identity = undefined;
      throw error;
    });
    return this.identity;
  }

  /** The merchant's WeChat Pay public key (public-key mode), made once and shared by every process. */
  publicKey(): Promise<WechatPublicKey> {
    this.publicKeyPair ??= loadOrMakeKeyPair(this.keys, WECHAT_PUBLIC_KEY_NAME).then(
      ({ privateKey, publicKeyPem }) => ({ publicKeyId: publicKeyId(this.config.mchid, publicKeyPem), publicKeyPem, privateKey }),
      (error: unknown) => {
        this.publicKeyPair = undefined;
        throw error;
      },
    );
    return this.publicKeyPair;
  }

  /**
   * The key the merchant's answers and notifications are signed with (`WECHAT_MOCK_SIGNING`): the platform
   * certificate's, named by its serial, or in public-key mode the public key's, named `PUB_KEY_ID_…`.
   */
  async signer(): Promise<WechatSigner> {
    if (this.config.mockSigning === 'public_key') {
      const { publicKeyId, privateKey } = await this.publicKey();
      return { serial: publicKeyId, privateKey };
    }
    const { serial, privateKey } = await this.platformIdentity();
    return { serial, privateKey };
  }

  async setWallet(id: string, balanceFen: bigint): Promise<{ wechatId: string; balanceCny: string }> {
    const wechatId = walletKey(id);
    await this.wallets.setWallet(wechatId, balanceFen);
    return { wechatId, balanceCny: formatAmount(balanceFen, 'CNY') };
  }

  async wallet(id: string): Promise<{ wechatId: string; balanceCny: string }> {
    const wechatId = walletKey(id);
    const balanceFen = await this.wallets.balance(wechatId);
    if (balanceFen === undefined) throw DomainError.notFound('Wallet');
    return { wechatId, balanceCny: formatAmount(balanceFen, 'CNY') };
  }

  /**
   * What a user does in the WeChat app: sends CNY to another wallet, at once; or, asked for `processingMs`, taken
   * from the sender now and left PROCESSING that long before it succeeds (credited and notified then).
   */
  async transfer(given: {
    from: string;
    to: string;
    amountFen: bigint;
    memo?: string;
    processingMs?: number;
  }): Promise<{ transferId: string }> {
    const processing = (given.processingMs ?? 0) > 0;
    const input = { ...given, from: walletKey(given.from), to: walletKey(given.to) };
    if (input.from === input.to) {
      throw DomainError.validation([{ field: 'toWechatId', code: 'same_wallet', message: 'A wallet cannot send to itself' }]);
    }
    const now = new Date();
    const transfer: TransferRow = {
      id: newTransferId(),
      from_wechat_id: input.from,
      to_wechat_id: input.to,
      amount_fen: input.amountFen.toString(),
      memo: input.memo ?? null,
      state: processing ? 'PROCESSING' : 'SUCCESS',
      create_time: now,
      update_time: now,
    };
    const jobs = processing
      ? [
          this.outbox.rowForStatement({
            queue: QUEUES.sandboxWechat,
            jobName: JOBS.sandboxWechat.settleTransfer,
            jobId: wechatTransferSettleJobId(transfer.id),
            payload: { transferId: transfer.id },
            delayMs: given.processingMs,
          }),
        ]
      : (await this.notifications(view(transfer))).map((message) => this.outbox.rowForStatement(message));
    const outboxIds = await this.wallets.transfer(transfer, !processing, jobs);
    if (!outboxIds) {
      // Nothing was written: say why, as the wallets are now.
      const [from, to] = await Promise.all([this.wallets.balance(input.from), this.wallets.balance(input.to)]);
      if (from === undefined || to === undefined) throw DomainError.notFound('Wallet');
      throw new DomainError('insufficient_amount', 'The wallet does not hold that much');
    }
    this.outbox.publishWritten(
      jobs.map((row, i) => ({ row, id: outboxIds[i] })),
      Date.now(),
    );
    return { transferId: transfer.id };
  }

  /** A PROCESSING transfer succeeds: the receiver is credited and notified, once. */
  async settleTransfer(transferId: string): Promise<void> {
    await this.transactions.run(async (manager) => {
      const transfer = await this.wallets.succeed(manager, transferId);
      if (!transfer) return;
      await this.wallets.credit(manager, transfer.to_wechat_id, BigInt(transfer.amount_fen));
      await this.notify(manager, view(transfer));
    });
  }

  async findTransfer(id: string): Promise<WalletTransferView | null> {
    const transfer = await this.wallets.findTransfer(id);
    return transfer ? view(transfer) : null;
  }

  async searchTransfers(from: string, to: string, since: Date): Promise<WalletTransferView[]> {
    return (await this.wallets.searchTransfers(walletKey(from), walletKey(to), since)).map(view);
  }

  /** Queues the transfer's notification in the caller's transaction. */
  private async notify(manager: EntityManager, transfer: WalletTransferView): Promise<void> {
    for (const message of await this.notifications(transfer, manager)) await this.outbox.write(manager, message);
  }

  /** The transfer's notification (resource encrypted with the APIv3 key), a message per copy: the webhook faults act here. */
  private async notifications(transfer: WalletTransferView, manager?: EntityManager): Promise<OutboxMessage[]> {
    const notification = {
      id: randomUUID(),
      create_time: beijingTime(new Date()),
      resource_type: 'encrypt-resource',
      event_type: 'WALLET_TRANSFER.SUCCESS',
      summary: '转账成功',
      resource: { original_type: 'wallet_transfer', ...aesGcmEncrypt(this.config.apiV3Key, JSON.stringify(transfer), 'wallet_transfer') },
    };
    const delays = webhookCopies(await this.faults.get('wechat', manager), notification.id);
    const url = this.config.mockNotifyUrl ?? this.urls.callback('wechat');
    return [...delays.entries()].map(([copy, delayMs]) => ({
      queue: QUEUES.sandboxWechat,
      jobName: JOBS.sandboxWechat.deliverNotification,
      jobId: wechatNotifyJobId(notification.id, copy, 0),
      payload: { notification, url, attempt: 0, copy },
      delayMs,
    }));
  }
}

/** WeChat ids are case-insensitive, as the platform stores them: one wallet whatever the case it is named in. */
function walletKey(wechatId: string): string {
  return wechatId.trim().toLowerCase();
}

/** How WeChat writes a notification's time (PROVIDERS.md): Beijing time, to the second, with its offset. */
function beijingTime(at: Date): string {
  return `${new Date(at.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 19)}+08:00`;
}

/** A WeChat-like public key id (`PUB_KEY_ID_01` + the merchant id + digits), the same for the same key in every process. */
function publicKeyId(mchid: string, publicKeyPem: string): string {
  const digits = (createHash('sha256').update(publicKeyPem).digest().readBigUInt64BE(0) % 10n ** 16n).toString().padStart(16, '0');
  return `${WECHATPAY_PUBLIC_KEY_SERIAL_PREFIX}01${mchid}${digits}`;
}

/** WeChat-like transfer ids: digits, with the date in them. */
function newTransferId(): string {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  let digits = '';
  for (let i = 0; i < 18; i += 1) digits += randomInt(10).toString();
  return `10000${day}${digits}`;
}
