import { createHmac } from 'node:crypto';
import { DomainError } from '../errors';
import { Cursors } from './cursors';
import { isTimeCursor } from './time-cursor';

const SECRET = 'a-test-secret-that-is-at-least-32-characters';
const POSITION = { t: '2026-01-02T03:04:05.678Z', id: '00000000-0000-4000-8000-000000000001' };

function refusal(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('the cursor was accepted');
}

function expectRefused(run: () => unknown): void {
  const error = refusal(run);
  expect(error).toBeInstanceOf(DomainError);
  expect(error).toMatchObject({ code: 'validation_failed', extensions: { errors: [{ field: 'cursor', code: 'invalid_cursor' }] } });
}

describe('Cursors', () => {
  const cursors = Cursors.fromSecret(SECRET);
  const list = cursors.of('audit', isTimeCursor);

  it('gives back the position of a cursor it issued, and only text a URL carries as is', () => {
    const cursor = list.encode(POSITION);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(list.decode(cursor)).toEqual(POSITION);
    // Another instance from the same secret (another API process) reads it too.
    expect(Cursors.fromSecret(SECRET).of('audit', isTimeCursor).decode(cursor)).toEqual(POSITION);
  });

  it("refuses another list's cursor, and one signed with another secret", () => {
    const cursor = list.encode(POSITION);
    expectRefused(() => cursors.of('api-keys', isTimeCursor).decode(cursor));
    expectRefused(() => Cursors.fromSecret(`${SECRET}-rotated`).of('audit', isTimeCursor).decode(cursor));
  });

  it('refuses a cursor whose position was edited, even to a valid one', () => {
    const [, tag] = list.encode(POSITION).split('.');
    const edited = Buffer.from(JSON.stringify({ ...POSITION, id: '00000000-0000-4000-8000-000000000002' })).toString('base64url');
    expectRefused(() => list.decode(`${edited}.${tag}`));
  });

  it('refuses the unsigned cursors clients could forge before, and truncated or padded ones', () => {
    const cursor = list.encode(POSITION);
    const [payload, tag] = cursor.split('.');
    for (const forged of [
      payload,
      `${payload}.`,
      `.${tag}`,
      cursor.slice(0, -1),
      `${cursor}A`,
      `${cursor}.${tag}`,
      `${payload}.${tag.slice(0, -1)}B`,
      `${payload}=.${tag}`,
      'garbage',
      '',
    ]) {
      expectRefused(() => list.decode(forged));
    }
  });

  it('checks the position after the signature: a signed position of the wrong shape is still refused', () => {
    const bad = cursors.of('audit', (value): value is Record<string, unknown> => typeof value === 'object').encode({ t: 'yesterday' });
    expectRefused(() => list.decode(bad));
  });

  it('signs the list name and the text with HMAC-SHA256 under a key derived from the secret, not the secret itself', () => {
    const [payload, tag] = list.encode(POSITION).split('.');
    const withSecret = createHmac('sha256', SECRET).update(`audit\n${payload}`).digest().subarray(0, 16).toString('base64url');
    expect(tag).not.toBe(withSecret);
  });
});
