import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

export interface SandboxConfig {
  /**
   * The service's own base URL (an origin) as the provider mocks know it, never taken from a request: the mocks
   * deliver their callbacks to `<base>/v1/provider-webhooks/<provider>` (unless a `*_MOCK_WEBHOOK_URL` names
   * another target), and the links they answer with (PayPal's approve page, self links, the webhook certificate)
   * start with `<base>/sandbox/<provider>`. Set it to the public address where browsers reach a hosted sandbox.
   */
  baseUrl: string;
}

export type MockProvider = 'paypal' | 'bank' | 'wechat';

/**
 * A mock's base under the service's own configured base: `<base>/sandbox/<provider>`. Here rather than in the
 * sandbox so that the PayPal adapter can trust the mock's certificate URL without importing the sandbox.
 */
export function mockBase(sandboxBaseUrl: string, provider: MockProvider): string {
  return `${sandboxBaseUrl}/sandbox/${provider}`;
}

export function loadSandboxConfig(env = process.env): SandboxConfig {
  const read = new EnvReader(env);
  const port = env.PORT && /^\d+$/.test(env.PORT) ? env.PORT : '3000';
  const base = read.url('SANDBOX_BASE_URL', `http://127.0.0.1:${port}`, ['http:', 'https:']);
  if ((base.pathname !== '/' && base.pathname !== '') || base.search || base.hash || base.username || base.password) {
    read.fail('SANDBOX_BASE_URL is an origin only (scheme, host and port), without path, query or credentials');
  }
  return read.done({ baseUrl: base.origin });
}

export const sandboxConfig = registerAs('sandbox', () => loadSandboxConfig());
