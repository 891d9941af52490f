import { signPayload, verifyPayload } from './hmac-signature';

describe('X-Signature (HMAC-SHA256 over "<t>.<body>")', () => {
  const secret = 'a-test-secret';
  const body = '{"id":"evt_1","type":"transfer.settled"}';
  const now = 1_764_000_000_000;

  it('accepts its own signature, fresh', () => {
    expect(verifyPayload(secret, signPayload(secret, body, now), body, now + 1000)).toEqual({ ok: true });
  });

  it('has the documented shape', () => {
    expect(signPayload(secret, body, now)).toMatch(/^t=1764000000,v1=[0-9a-f]{64}$/);
  });

  it.each([
    ['missing', undefined],
    ['malformed', 'v1=abc'],
    ['malformed', 't=abc,v1=00'],
    ['malformed', 'garbage'],
    ['malformed', 't=1,t=2,v1=00'],
  ])('refuses a %s header (%s)', (reason, header) => {
    expect(verifyPayload(secret, header, body, now)).toEqual({ ok: false, reason });
  });

  it('refuses a signature older or newer than five minutes', () => {
    const header = signPayload(secret, body, now);
    expect(verifyPayload(secret, header, body, now + 5 * 60 * 1000 + 1000)).toEqual({ ok: false, reason: 'stale' });
    expect(verifyPayload(secret, header, body, now - 5 * 60 * 1000 - 1000)).toEqual({ ok: false, reason: 'stale' });
  });

  it('refuses another secret, another body, or a time changed after signing', () => {
    const header = signPayload(secret, body, now);
    expect(verifyPayload('another-secret', header, body, now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyPayload(secret, header, body.replace('evt_1', 'evt_2'), now)).toEqual({ ok: false, reason: 'mismatch' });
    const retimed = header.replace(/^t=\d+/, `t=${Math.floor(now / 1000) + 10}`);
    expect(verifyPayload(secret, retimed, body, now)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('accepts any one matching v1 among several (secret rotation)', () => {
    const header = signPayload(secret, body, now);
    const [t, v1] = header.split(',');
    expect(verifyPayload(secret, `${t},v1=${'0'.repeat(64)},${v1}`, body, now)).toEqual({ ok: true });
  });
});
