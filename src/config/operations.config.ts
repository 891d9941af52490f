import { registerAs } from '@nestjs/config';
import { EnvReader, isProduction } from './env';

export interface OperationsConfig {
  /** When set, `/metrics` (the API's and the worker's) answers only `Authorization: Bearer <token>`. Required in production. */
  metricsToken?: string;
  /** Whether `/docs`, `/docs-json` and `/docs-yaml` are served: by default outside production only. */
  docsEnabled: boolean;
  /** When set, the docs answer only this token: `Bearer <token>`, or Basic with it as the password (for a browser). */
  docsToken?: string;
}

const MIN_TOKEN_LENGTH = 32;

export function loadOperationsConfig(env = process.env): OperationsConfig {
  const read = new EnvReader(env);
  const production = isProduction(env);
  const config: OperationsConfig = {
    metricsToken: read.optionalString('METRICS_TOKEN'),
    docsEnabled: read.bool('DOCS_ENABLED', !production),
    docsToken: read.optionalString('DOCS_TOKEN'),
  };
  for (const [name, token] of [
    ['METRICS_TOKEN', config.metricsToken],
    ['DOCS_TOKEN', config.docsToken],
  ] as const) {
    if (token !== undefined && token.length < MIN_TOKEN_LENGTH) read.fail(`${name} must be at least ${MIN_TOKEN_LENGTH} characters`);
  }
  if (production) {
    if (!config.metricsToken) read.fail('METRICS_TOKEN must be set in production (/metrics is not for the public)');
    if (config.docsEnabled && !config.docsToken) read.fail('DOCS_TOKEN must be set in production when DOCS_ENABLED is true');
  }
  return read.done(config);
}

export const operationsConfig = registerAs('operations', () => loadOperationsConfig());
