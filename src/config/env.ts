/**
 * Typed readers for environment variables. Each concern's config file reads its variables through one
 * EnvReader, which collects every problem and throws once, naming each variable, so a bad start says
 * everything that is wrong in one message. A concern's type is its loader's return type, so each setting is
 * named, documented and typed once, where it is read.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Where the provider mocks are served: `SANDBOX_MOCKS_URL`'s origin when another process serves them
 * (`npm run start:sandbox`), else the service's own loopback port. A bad value is refused, by name, in the
 * sandbox settings.
 */
export function mocksOrigin(env: Env): string {
  const set = env.SANDBOX_MOCKS_URL?.trim();
  if (set) {
    try {
      return new URL(set).origin;
    } catch {
      // Refused with its name by the sandbox settings.
    }
  }
  return `http://127.0.0.1:${env.PORT && /^\d+$/.test(env.PORT) ? env.PORT : '3000'}`;
}

export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: Env = process.env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback?: string): string {
    const value = this.raw(name) ?? fallback;
    if (value === undefined) {
      this.problems.push(`${name} is required`);
      return '';
    }
    return value;
  }

  /** A credential with a development default, which production must replace. */
  credential(name: string, developmentDefault: string): string {
    const value = this.string(name, developmentDefault);
    if (value === developmentDefault && isProduction(this.env)) this.problems.push(`${name} must be set in production`);
    return value;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, bounds: { min?: number; max?: number } = {}): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^-?\d+$/.test(value)) {
      this.problems.push(`${name} must be an integer, got "${value}"`);
      return fallback;
    }
    const parsed = Number(value);
    if (bounds.min !== undefined && parsed < bounds.min) this.problems.push(`${name} must be >= ${bounds.min}, got ${parsed}`);
    if (bounds.max !== undefined && parsed > bounds.max) this.problems.push(`${name} must be <= ${bounds.max}, got ${parsed}`);
    return parsed;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(value.toLowerCase())) return true;
    if (['false', '0', 'no', 'off'].includes(value.toLowerCase())) return false;
    this.problems.push(`${name} must be true or false, got "${value}"`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
      return fallback;
    }
    return value as T;
  }

  url(name: string, fallback: string, protocols: string[]): URL {
    const value = this.raw(name) ?? fallback;
    try {
      const url = new URL(value);
      if (!protocols.includes(url.protocol)) {
        this.problems.push(`${name} must use ${protocols.join(' or ')}, got "${url.protocol}"`);
      }
      return url;
    } catch {
      // The value may hold a password: name the variable, never echo it.
      this.problems.push(`${name} is not a valid URL`);
      return new URL(fallback);
    }
  }

  /**
   * A provider's API base, without a trailing slash. Unset, it is the provider's sandbox mock on this process's own
   * port; in production it must name the provider itself, over https (its credentials travel with every call).
   */
  providerBaseUrl(name: string, mockPath: string, provider: string): string {
    const url = this.url(name, `${mocksOrigin(this.env)}${mockPath}`, ['http:', 'https:']);
    if (isProduction(this.env)) {
      if (!this.env[name] || url.pathname.startsWith('/sandbox/'))
        this.fail(`${name} must point at ${provider} in production, not the sandbox mock`);
      else if (url.protocol !== 'https:') this.fail(`${name} must use https in production`);
    }
    return url.toString().replace(/\/$/, '');
  }

  /** Where a sandbox mock delivers its callbacks when set; unset, the mock's own default. */
  optionalHttpUrl(name: string): string | undefined {
    return this.env[name] ? this.url(name, 'http://127.0.0.1', ['http:', 'https:']).toString() : undefined;
  }

  list(name: string, fallback: string[] = []): string[] {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0);
  }

  /** Records a problem found by a concern's own cross-field checks. */
  fail(problem: string): void {
    this.problems.push(problem);
  }

  done<T>(value: T): T {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
    return value;
  }
}

export const ENVIRONMENTS = ['development', 'test', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/**
 * The one place NODE_ENV is read. Unset (or empty) is development; otherwise it must be exactly one of the
 * three names, so a typo, padding (`'production '`) or another case refuses to start instead of quietly running
 * in sandbox mode with the development secrets.
 */
export function environmentOf(env: Env = process.env): Environment {
  const raw = env.NODE_ENV;
  if (raw === undefined || raw === '') return 'development';
  if ((ENVIRONMENTS as readonly string[]).includes(raw)) return raw as Environment;
  throw new ConfigError([`NODE_ENV must be exactly development, test or production (lower case, no spaces), got ${JSON.stringify(raw)}`]);
}

export function isProduction(env: Env = process.env): boolean {
  return environmentOf(env) === 'production';
}
