import { DnsResolver, hostAllowed, Lookup, resolvePublicTarget, TargetRefused } from './public-target';

const notFound = () => Promise.reject(Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' }));

/** A DNS resolver answering from a table (A and AAAA records alike); a name not in it does not resolve. */
function table(answers: Record<string, string[]>): DnsResolver & { queried: string[] } {
  const queried: string[] = [];
  const records = (v6: boolean) => (hostname: string) => {
    queried.push(hostname);
    const addresses = answers[hostname]?.filter((address) => address.includes(':') === v6);
    return addresses?.length ? Promise.resolve(addresses) : notFound();
  };
  return { queried, resolve4: records(false), resolve6: records(true) };
}

/** The system's lookup (/etc/hosts), which knows `localhost` only. */
const hostsFile: Lookup = (hostname) =>
  hostname === 'localhost'
    ? Promise.resolve([
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ])
    : notFound();

const resolve = (url: string, answers: Record<string, string[]> = {}, allowedHosts: string[] = []) =>
  resolvePublicTarget(url, { allowedHosts, timeoutMs: 1000, resolver: table(answers), lookup: hostsFile });

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
  });

  it('gives up on DNS that does not answer in time, and cancels its queries', async () => {
    let cancelled = 0;
    const never = () => new Promise<string[]>(() => undefined);
    const slow: DnsResolver = { resolve4: never, resolve6: never, cancel: () => (cancelled += 1) };
    const lookup = jest.fn(hostsFile);
    await expect(
      resolvePublicTarget('https://slow.example.com/', { allowedHosts: [], timeoutMs: 20, resolver: slow, lookup }),
    ).rejects.toThrow('The URL’s host does not resolve');
    expect(cancelled).toBe(1);
    // A client's name never goes to the system's lookup (the threadpool).
    expect(lookup).not.toHaveBeenCalled();
  });

  it('takes a name with only IPv4 or only IPv6 records, IPv4 first when it has both', async () => {
    expect(await resolve('https://v6only.example.com/', { 'v6only.example.com': ['2606:4700::1'] })).toMatchObject({
      address: '2606:4700::1',
      family: 6,
    });
    expect(await resolve('https://both.example.com/', { 'both.example.com': ['2606:4700::1', '93.184.215.14'] })).toMatchObject({
      address: '93.184.215.14',
      family: 4,
    });
  });

  it('refuses localhost names as loopback without a query, and looks an allowed one up the system’s way', async () => {
    const resolver = table({ localhost: ['93.184.215.14'] });
    const options = { timeoutMs: 1000, resolver, lookup: hostsFile };
    for (const url of ['http://localhost:1/', 'http://LOCALHOST./', 'http://api.localhost/']) {
      await expect(resolvePublicTarget(url, { ...options, allowedHosts: [] })).rejects.toThrow(
        'The URL’s host resolves to a loopback address',
      );
    }
    expect(await resolvePublicTarget('http://localhost:9/', { ...options, allowedHosts: ['localhost'] })).toMatchObject({
      address: '127.0.0.1',
      family: 4,
    });
    expect(resolver.queried).toEqual([]);
  });

  it('falls back to the system’s lookup for an allowed name DNS does not know, and only for one', async () => {
    const lookup: Lookup = (hostname) =>
      hostname === 'receiver.internal' ? Promise.resolve([{ address: '10.0.0.7', family: 4 }]) : notFound();
    const options = { timeoutMs: 1000, resolver: table({}), lookup };
    expect(await resolvePublicTarget('http://receiver.internal/', { ...options, allowedHosts: ['receiver.internal'] })).toMatchObject({
      address: '10.0.0.7',
    });
    await expect(resolvePublicTarget('http://receiver.internal/', { ...options, allowedHosts: [] })).rejects.toThrow(
      'The URL’s host does not resolve',
    );
  });
});
