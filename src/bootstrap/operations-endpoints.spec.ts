import { carriesToken } from './operations-endpoints';

describe('carriesToken', () => {
  const token = 'a-metrics-token-of-thirty-two-characters';
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('takes the token as a Bearer credential', () => {
    expect(carriesToken(`Bearer ${token}`, token, { basic: false })).toBe(true);
    expect(carriesToken(`bearer ${token}`, token, { basic: false })).toBe(true);
  });

  it('refuses no header, another token, a prefix or an extension of it', () => {
    for (const header of [undefined, '', 'Bearer', `Bearer ${token.slice(0, -1)}`, `Bearer ${token}x`, `Token ${token}`, token]) {
      expect(carriesToken(header, token, { basic: true })).toBe(false);
    }
  });

  it('takes Basic with the token as the password only where asked to (the docs, for a browser)', () => {
    expect(carriesToken(basic('anyone', token), token, { basic: true })).toBe(true);
    expect(carriesToken(basic('anyone', token), token, { basic: false })).toBe(false);
    expect(carriesToken(basic(token, 'x'), token, { basic: true })).toBe(false);
    expect(carriesToken(`Basic ${Buffer.from(token).toString('base64')}`, token, { basic: true })).toBe(false);
  });
});
