/** Encryption contexts of the payment handles: bound into each ciphertext, so a value cannot be moved to another column. */
export const HANDLE_CONTEXT = { wechatId: 'users.wechat_id', paypalEmail: 'users.paypal_email' } as const;
