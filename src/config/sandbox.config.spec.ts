import { loadSandboxConfig } from './sandbox.config';

describe('SANDBOX_BASE_URL', () => {
  it('defaults to the own loopback port, and is an origin only', () => {
    expect(loadSandboxConfig({ PORT: '4123' }).baseUrl).toBe('http://127.0.0.1:4123');
    expect(loadSandboxConfig({ SANDBOX_BASE_URL: 'https://sandbox.example/' }).baseUrl).toBe('https://sandbox.example');
    for (const bad of ['https://sandbox.example/prefix', 'https://user:pw@sandbox.example', 'ftp://sandbox.example', 'nonsense']) {
      expect(() => loadSandboxConfig({ SANDBOX_BASE_URL: bad })).toThrow(/SANDBOX_BASE_URL/);
    }
  });
});
