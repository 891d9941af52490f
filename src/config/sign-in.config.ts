import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

export function loadSignInConfig(env = process.env) {
  const read = new EnvReader(env);
  return read.done({
    /** Failed sign-ins for one email within the window before further attempts for it are refused (429). */
    maxFailures: read.int('LOGIN_MAX_FAILURES', 5, { min: 1, max: 1000 }),
    /** How long failures count, from the first; a locked email may try again once it passes. */
    failureWindowMs: read.int('LOGIN_FAILURE_WINDOW_MS', 15 * 60 * 1000, { min: 1000, max: 7 * 24 * 3600 * 1000 }),
  });
}

export type SignInConfig = ReturnType<typeof loadSignInConfig>;

export const signInConfig = registerAs('signIn', () => loadSignInConfig());
