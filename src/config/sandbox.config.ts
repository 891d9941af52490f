import { registerAs } from '@nestjs/config';
import { EnvReader, mocksOrigin } from './env';

export interface SandboxConfig {
  /**
   * Where the provider mocks' links point (an origin), never taken from a request: the links they answer with
   * (PayPal's approve page, self links, the webhook certificate) start with `<base>/sandbox/<provider>`, and the
   * service trusts the mock's certificate and public key only there. Set it to the public address where browsers
   * reach a hosted sandbox.
   */
  baseUrl: string;
  /**
   * Where the mocks deliver their callbacks (`<service>/v1/provider-webhooks/<provider>`, unless a
   * `*_MOCK_WEBHOOK_URL` names another target): the service's own origin.
   */
  serviceUrl: string;
  /** Where the mocks are served when not by this process (`npm run start:sandbox`); unset, the service serves them. */
  mocksUrl?: string;
  /** The port `npm run start:sandbox` listens on. */
  port: number;
}

export type MockProvider = 'paypal' | 'bank' | 'wechat';

/**
 * A mock's base under the service's own configured base: `<base>/sandbox/<provider>`. Here rather than in the
 * sandbox so that the PayPal adapter can trust the mock's certificate URL without importing the sandbox.
 */
export function mockBase(sandboxBaseUrl: string, provider: MockProvider): string {
  return `${sandboxBaseUrl}/sandbox/${provider}`;
}

export const DEFAULT_SANDBOX_PORT = 3100;

const ownPort = (env: Record<string, string | undefined>) => (env.PORT && /^\d+$/.test(env.PORT) ? env.PORT : '3000');

/** An origin only (scheme, host and port): anything else in the value is refused, naming the setting. */
function readOrigin(read: EnvReader, name: string, fallback: string): string {
  const url = read.url(name, fallback, ['http:', 'https:']);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
    read.fail(`${name} is an origin only (scheme, host and port), without path, query or credentials`);
  }
  return url.origin;
}

export function loadSandboxConfig(env = process.env): SandboxConfig {
  const read = new EnvReader(env);
  const mocksUrl = env.SANDBOX_MOCKS_URL?.trim() ? readOrigin(read, 'SANDBOX_MOCKS_URL', 'http://127.0.0.1') : undefined;
  const baseUrl = readOrigin(read, 'SANDBOX_BASE_URL', mocksOrigin(env));
  const serviceUrl = readOrigin(read, 'SANDBOX_SERVICE_URL', baseUrl);
  const port = read.int('SANDBOX_PORT', DEFAULT_SANDBOX_PORT, { min: 1, max: 65535 });
  return read.done({ baseUrl, serviceUrl, mocksUrl, port });
}

/**
 * The sandbox process's own defaults, applied before its settings are read: its links under its own port (or
 * `SANDBOX_MOCKS_URL`, when the same settings serve both processes), its callbacks to the service on `PORT`.
 */
export function sandboxProcessEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const port = env.SANDBOX_PORT && /^\d+$/.test(env.SANDBOX_PORT) ? env.SANDBOX_PORT : String(DEFAULT_SANDBOX_PORT);
  return {
    ...env,
    SANDBOX_BASE_URL: env.SANDBOX_BASE_URL?.trim() || env.SANDBOX_MOCKS_URL?.trim() || `http://127.0.0.1:${port}`,
    SANDBOX_SERVICE_URL: env.SANDBOX_SERVICE_URL?.trim() || `http://127.0.0.1:${ownPort(env)}`,
  };
}

export const sandboxConfig = registerAs('sandbox', () => loadSandboxConfig());
