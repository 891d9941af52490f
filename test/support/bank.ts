import { DEV_BANK_API_KEY } from '../../src/config';
import type { Api } from './http';

export interface BankTransfer {
  id: string;
  direction: 'incoming' | 'return';
  reference: string | null;
  amount: string;
  status: 'pending' | 'settled' | 'failed' | 'returned';
  returnsTransferId: string | null;
}

/** One transfer as the bank's API shows it to the platform (the mock, with the platform's API key). */
export async function bankTransfer(api: Api, id: string): Promise<BankTransfer> {
  const response = await api('GET', `/sandbox/bank/v1/transfers/${encodeURIComponent(id)}`, {
    headers: { authorization: `Bearer ${DEV_BANK_API_KEY}` },
  });
  if (response.status !== 200) throw new Error(`bank transfer: ${response.status} ${response.text}`);
  return response.body;
}

/** The returns the bank made of an incoming transfer, oldest first, as its API lists them. */
export async function bankReturns(api: Api, transferId: string): Promise<BankTransfer[]> {
  const response = await api('GET', `/sandbox/bank/v1/transfers?returnsTransferId=${encodeURIComponent(transferId)}`, {
    headers: { authorization: `Bearer ${DEV_BANK_API_KEY}` },
  });
  if (response.status !== 200) throw new Error(`bank returns: ${response.status} ${response.text}`);
  return response.body.data;
}
