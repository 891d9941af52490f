import { randomBytes } from 'node:crypto';
import type { TestApp } from './test-app';
import { UsersService } from '../../src/users/users.service';
import type { Api } from './http';

export interface TestUser {
  id: string;
  email: string;
  password: string;
  token: string;
}

export function uniqueEmail(label = 'user'): string {
  return `${label}-${randomBytes(4).toString('hex')}@example.com`;
}

export async function login(api: Api, email: string, password: string): Promise<string> {
  const response = await api('POST', '/v1/auth/login', { body: { email, password } });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${response.text}`);
  return response.body.accessToken;
}

export async function registerUser(api: Api, role: 'traveler' | 'counterparty', label: string = role): Promise<TestUser> {
  const email = uniqueEmail(label);
  const password = 'correct horse battery';
  const response = await api('POST', '/v1/auth/register', { body: { email, password, displayName: label, role } });
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${response.text}`);
  return { id: response.body.id, email, password, token: await login(api, email, password) };
}

/** Operators cannot register over HTTP; the same service the CLI uses creates one. */
export async function createOperator(test: TestApp, api: Api): Promise<TestUser> {
  const email = uniqueEmail('operator');
  const password = 'operator password 1';
  const operator = await test.app.get(UsersService).createOperator(email, password);
  return { id: operator.id, email, password, token: await login(api, email, password) };
}
