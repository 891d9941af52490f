/** What the platform needs of WeChat: the wallet transfers a counterparty made (API.md's query), amounts in fen. */
export interface WalletTransfer {
  transferId: string;
  fromWechatId: string;
  toWechatId: string;
  amountFen: bigint;
  state: 'PROCESSING' | 'SUCCESS' | 'FAIL' | string;
  createdAt: Date;
}

export interface WechatPort {
  /** The transfer, or null when WeChat has none by that id. */
  getTransfer(transferId: string): Promise<WalletTransfer | null>;
  /** Transfers from one wallet to another since a time, newest first. */
  searchTransfers(fromWechatId: string, toWechatId: string, since: Date): Promise<WalletTransfer[]>;
  /** Verifies a notification's `Wechatpay-*` signature and decrypts its resource; null when it is not WeChat's. */
  openNotification(headers: Record<string, string | string[] | undefined>, rawBody: string): Promise<Record<string, unknown> | null>;
}

export const WECHAT = Symbol('WECHAT');

export class WechatApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'WechatApiError';
  }
}
