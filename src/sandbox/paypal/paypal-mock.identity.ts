import { Injectable } from '@nestjs/common';
import { loadOrMakeIdentity, SigningIdentity } from '../sandbox-keys';
import { SandboxKeysRepository } from '../sandbox-keys.repository';

export const PAYPAL_MOCK_CERT_ID = 'CERT-mock-1';

export type { SigningIdentity };

/** The mock's webhook signing key and its self-signed certificate (`sandbox_keys`), loaded once per process. */
@Injectable()
export class PaypalMockIdentity {
  private identity?: Promise<SigningIdentity>;

  constructor(private readonly keys: SandboxKeysRepository) {}

  get(): Promise<SigningIdentity> {
    this.identity ??= this.load().catch((error) => {
      this.identity = undefined;
      throw error;
    });
    return this.identity;
  }

  private load(): Promise<SigningIdentity> {
    return loadOrMakeIdentity(this.keys, PAYPAL_MOCK_CERT_ID, 'messageverificationcerts.sandbox.yuanbridge.local');
  }
}
