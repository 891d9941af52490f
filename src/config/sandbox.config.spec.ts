import { loadBankConfig } from './bank.config';
import { loadPaypalConfig } from './paypal.config';
import { DEFAULT_SANDBOX_PORT, loadSandboxConfig, sandboxProcessEnv } from './sandbox.config';
import { loadWechatConfig } from './wechat.config';

describe('SANDBOX_BASE_URL', () => {
  it('defaults to the own loopback port, and is an origin only', () => {
    expect(loadSandboxConfig({ PORT: '4123' }).baseUrl).toBe('http://127.0.0.1:4123');
    expect(loadSandboxConfig({ SANDBOX_BASE_URL: 'https://sandbox.example/' }).baseUrl).toBe('https://sandbox.example');
    for (const bad of ['https://sandbox.example/prefix', 'https://user:pw@sandbox.example', 'ftp://sandbox.example', 'nonsense']) {
      expect(() => loadSandboxConfig({ SANDBOX_BASE_URL: bad })).toThrow(/SANDBOX_BASE_URL/);
    }
  });
});

describe('the sandbox process and a service using it', () => {
  it('delivers the callbacks to the service: the own base in one process, PORT from the sandbox process', () => {
    expect(loadSandboxConfig({ PORT: '4123' }).serviceUrl).toBe('http://127.0.0.1:4123');
    expect(loadSandboxConfig({ SANDBOX_BASE_URL: 'https://sandbox.example' }).serviceUrl).toBe('https://sandbox.example');
    const apart = loadSandboxConfig(sandboxProcessEnv({ PORT: '4123', SANDBOX_PORT: '4200' }));
    expect(apart).toMatchObject({ baseUrl: 'http://127.0.0.1:4200', serviceUrl: 'http://127.0.0.1:4123', port: 4200 });
    expect(loadSandboxConfig(sandboxProcessEnv({})).port).toBe(DEFAULT_SANDBOX_PORT);
    expect(() => loadSandboxConfig({ SANDBOX_SERVICE_URL: 'https://api.example/v1' })).toThrow(/SANDBOX_SERVICE_URL/);
    expect(() => loadSandboxConfig({ SANDBOX_PORT: '70000' })).toThrow(/SANDBOX_PORT/);
  });

  it('points the service at mocks served elsewhere: their links and every provider base', () => {
    const env = { PORT: '4123', SANDBOX_MOCKS_URL: 'http://127.0.0.1:4200' };
    expect(loadSandboxConfig(env)).toMatchObject({ mocksUrl: 'http://127.0.0.1:4200', baseUrl: 'http://127.0.0.1:4200' });
    expect(loadPaypalConfig(env).baseUrl).toBe('http://127.0.0.1:4200/sandbox/paypal');
    expect(loadWechatConfig(env).baseUrl).toBe('http://127.0.0.1:4200/sandbox/wechat');
    expect(loadBankConfig(env).baseUrl).toBe('http://127.0.0.1:4200/sandbox/bank');
    // Unset, the service serves them itself.
    expect(loadSandboxConfig({ PORT: '4123' }).mocksUrl).toBeUndefined();
    expect(loadBankConfig({ PORT: '4123' }).baseUrl).toBe('http://127.0.0.1:4123/sandbox/bank');
    expect(() => loadSandboxConfig({ SANDBOX_MOCKS_URL: 'http://127.0.0.1:4200/sandbox' })).toThrow(/SANDBOX_MOCKS_URL/);
  });
});
