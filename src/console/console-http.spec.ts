import { safeNext } from './console-http';

describe('safeNext', () => {
  it('keeps a path of the console, with its query', () => {
    for (const next of ['/admin', '/admin/disputes', '/admin/disputes?status=resolved&cursor=abc', '/admin/queues/queue/x']) {
      expect(safeNext(next)).toBe(next);
    }
  });

  it('sends anything else to /admin: other sites, other paths, tricks and the sign-in page itself', () => {
    const refused = [
      undefined,
      42,
      '',
      'https://evil.example/admin',
      '//evil.example/admin',
      '/\\evil.example',
      '/admin//evil.example',
      '/admin/\\evil.example',
      '/administrator',
      '/v1/me',
      'javascript:alert(1)',
      '/admin/x\r\nLocation: https://evil.example',
      '/admin/sign-in?next=/admin',
      `/admin/${'a'.repeat(1000)}`,
      '/admin/../v1/me',
      '/admin/%2e%2e/%2e%2e/v1/me',
      '/admin/disputes/../../sign-in',
      '/admin/./../../evil',
    ];
    for (const next of refused) expect([next, safeNext(next)]).toEqual([next, '/admin']);
  });

  it('resolves dot segments and percent-encodes what a Location header cannot carry', () => {
    expect(safeNext('/admin/\u65e5')).toBe('/admin/%E6%97%A5');
    expect(safeNext('/admin/users?q=\u00e9 x')).toBe('/admin/users?q=%C3%A9%20x');
    expect(safeNext('/admin/disputes/../trades')).toBe('/admin/trades');
    expect(safeNext('/admin/./ledger')).toBe('/admin/ledger');
  });
});
