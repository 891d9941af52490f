import { MESSAGE_CONTEXT } from '../chat/message-content';
import { STATEMENT_CONTEXT } from '../disputes/statement-content';
import { RESPONSE_CONTEXT } from '../idempotency/idempotency.interceptor';
import { PROVIDER_EVENT_CONTEXT } from '../payments/funding/provider-webhooks.controller';
import { HANDLE_CONTEXT } from '../common/crypto/handle-context';
import { RATING_COMMENT_CONTEXT } from '../ratings/rating-content';
import { WEBHOOK_SECRET_CONTEXT } from '../notifications/webhooks/delivery-job';

/**
 * A column encrypted with FieldEncryption: its values are stored in `<column>_ciphertext` and
 * `<column>_key_id` and, when `blindIndex` is set, with an HMAC blind index in `<column>_index`.
 */
export interface EncryptedColumn {
  table: string;
  /** The primary key column(s): a rotation walks the rows in this order. */
  id: readonly string[];
  /** The columns' common prefix. */
  column: string;
  /** The encryption context bound into each value (GCM additional data). */
  context: string;
  /** Whether a `<column>_index` blind index sits beside it. */
  blindIndex?: boolean;
}

/**
 * Every encrypted column, for `rotate-keys`. A new encrypted column is one line here. A trade's handle
 * snapshots are copies of its parties' ciphertexts, so they keep the users' contexts.
 */
export const ENCRYPTED_COLUMNS: readonly EncryptedColumn[] = [
  { table: 'users', id: ['id'], column: 'wechat_id', context: HANDLE_CONTEXT.wechatId, blindIndex: true },
  { table: 'users', id: ['id'], column: 'paypal_email', context: HANDLE_CONTEXT.paypalEmail, blindIndex: true },
  { table: 'trades', id: ['id'], column: 'traveler_wechat', context: HANDLE_CONTEXT.wechatId, blindIndex: true },
  { table: 'trades', id: ['id'], column: 'counterparty_wechat', context: HANDLE_CONTEXT.wechatId, blindIndex: true },
  { table: 'trades', id: ['id'], column: 'counterparty_paypal', context: HANDLE_CONTEXT.paypalEmail, blindIndex: true },
  { table: 'provider_events', id: ['provider', 'event_id'], column: 'raw', context: PROVIDER_EVENT_CONTEXT },
  { table: 'idempotency_keys', id: ['owner_id', 'key'], column: 'response', context: RESPONSE_CONTEXT },
  { table: 'dispute_statements', id: ['id'], column: 'text', context: STATEMENT_CONTEXT.text },
  { table: 'dispute_statements', id: ['id'], column: 'attachment_names', context: STATEMENT_CONTEXT.attachmentNames },
  { table: 'ratings', id: ['id'], column: 'comment', context: RATING_COMMENT_CONTEXT },
  { table: 'trade_messages', id: ['id'], column: 'text', context: MESSAGE_CONTEXT },
  { table: 'webhook_endpoints', id: ['id'], column: 'secret', context: WEBHOOK_SECRET_CONTEXT },
];
