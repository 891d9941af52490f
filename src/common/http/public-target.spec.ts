import { hostAllowed, Lookup, resolvePublicTarget, TargetRefused } from './public-target';

/** A resolver answering from a table; a name not in it does not resolve. */
const table =
  (answers: Record<string, string[]>): Lookup =>
  (hostname) => {
    const addresses = answers[hostname];
    if (!addresses) return Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
    return Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };

const resolve = (url: string, answers: Record<string, string[]> = {}, allowedHosts: string[] = []) =>
  resolvePublicTarget(url, { allowedHosts, timeoutMs: 1000, lookup: table(answers) });

const refusal = (url: string, answers: Record<string, string[]> = {}, allowedHosts: string[] = []) =>
  resolve(url, answers, allowedHosts).then(
    () => 'accepted',
    (error: Error) => (error instanceof TargetRefused ? error.message : `unexpected: ${error.message}`),
  );

describe('resolvePublicTarget', () => {
  it('returns the address to connect to, with the host for Host and TLS', async () => {
    const target = await resolve('https://hooks.example.com:8443/in?x=1', {
      'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07::1'],
    });
    expect(target).toMatchObject({ hostname: 'hooks.example.com', address: '93.184.215.14', family: 4 });
    expect(target.url.href).toBe('https://hooks.example.com:8443/in?x=1');
    expect(await resolve('http://[2606:4700::1]/')).toMatchObject({ hostname: '2606:4700::1', address: '2606:4700::1', family: 6 });
  });

  it('refuses a host when any of its addresses is not public (a rebinding name with one public answer too)', async () => {
    expect(await refusal('https://mixed.example.com/', { 'mixed.example.com': ['93.184.215.14', '10.1.2.3'] })).toBe(
      'The URL’s host resolves to a private address',
    );
    expect(await refusal('https://meta.example.com/', { 'meta.example.com': ['169.254.169.254'] })).toBe(
      'The URL’s host resolves to a metadata address',
    );
    expect(await refusal('https://v6.example.com/', { 'v6.example.com': ['::ffff:127.0.0.1'] })).toBe(
      'The URL’s host resolves to a loopback address',
    );
  });

  it('refuses loopback unless the host is allowed, matched on the host in any case and with any port', async () => {
    expect(await refusal('http://127.0.0.1:3000/')).toBe('The URL’s host resolves to a loopback address');
    expect(await refusal('http://127.0.0.1:3000/', {}, ['127.0.0.1'])).toBe('accepted');
    expect(await refusal('http://LocalHost:9/', { localhost: ['127.0.0.1', '::1'] }, ['localhost'])).toBe('accepted');
    expect(await refusal('http://localhost:9/', { localhost: ['127.0.0.1'] }, ['127.0.0.1'])).toBe(
      'The URL’s host resolves to a loopback address',
    );
    expect(await refusal('http://[::1]:9/', {}, ['::1'])).toBe('accepted');
    expect(await refusal('http://[::1]:9/', {}, ['[::1]'])).toBe('accepted');
    expect(hostAllowed('[::1]', ['::1'])).toBe(true);
    expect(hostAllowed('example.com', ['127.0.0.1'])).toBe(false);
  });

  it('refuses other schemes, credentials, and hosts that do not resolve', async () => {
    expect(await refusal('ftp://example.com/')).toBe('The URL’s scheme must be http or https, not ftp');
    expect(await refusal('javascript:alert(1)')).toBe('The URL’s scheme must be http or https, not javascript');
    expect(await refusal('https://u:p@example.com/', { 'example.com': ['93.184.215.14'] })).toBe('The URL must not carry credentials');
    expect(await refusal('https://nowhere.invalid/')).toBe('The URL’s host does not resolve');
    expect(await refusal('/relative')).toBe('The URL is not an absolute URL');
    const never: Lookup = () => new Promise(() => undefined);
    await expect(resolvePublicTarget('https://slow.example.com/', { allowedHosts: [], timeoutMs: 20, lookup: never })).rejects.toThrow(
      'The URL’s host does not resolve',
    );
  });
});
