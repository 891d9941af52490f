import { withoutPaymentHandles, withoutShownOnce } from './stored-response';

describe('withoutPaymentHandles', () => {
  it('drops every payment handle, at any depth, and keeps the rest as it was', () => {
    const body = {
      id: 't1',
      state: 'payout_sent',
      travelerWechatId: 'wx_secret',
      deadlines: { payoutBy: '2026-01-01T00:00:00.000Z' },
      data: [{ id: 't2', counterpartyWechatId: 'wx_other', nested: { counterpartyPaypalEmail: 'a@example.com', ok: true } }],
      n: 1,
      none: null,
    };
    const stored = withoutPaymentHandles(body);
    expect(stored).toEqual({
      id: 't1',
      state: 'payout_sent',
      deadlines: { payoutBy: '2026-01-01T00:00:00.000Z' },
      data: [{ id: 't2', nested: { ok: true } }],
      n: 1,
      none: null,
    });
    expect(JSON.stringify(stored)).not.toMatch(/wx_secret|wx_other|a@example\.com/);
    // The original is not changed.
    expect(body.travelerWechatId).toBe('wx_secret');
  });

  it('keeps bodies that are not objects as they are', () => {
    expect(withoutPaymentHandles(null)).toBeNull();
    expect(withoutPaymentHandles(undefined)).toBeUndefined();
    expect(withoutPaymentHandles('text')).toBe('text');
    expect(withoutPaymentHandles([1, 'a'])).toEqual([1, 'a']);
  });
});

describe('withoutShownOnce', () => {
  it('drops the named top-level fields only', () => {
    expect(withoutShownOnce({ id: 'k1', key: 'yb_secret', nested: { key: 'kept' } }, ['key'])).toEqual({
      id: 'k1',
      nested: { key: 'kept' },
    });
    expect(withoutShownOnce({ id: 'k1', key: 'x' }, [])).toEqual({ id: 'k1', key: 'x' });
    expect(withoutShownOnce(null, ['key'])).toBeNull();
    expect(withoutShownOnce([{ key: 'x' }], ['key'])).toEqual([{ key: 'x' }]);
  });
});
