import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { mockBase, MockProvider, sandboxConfig } from '../config';

export { mockBase, type MockProvider };

/**
 * Where the mocks point, from configuration only (`SANDBOX_BASE_URL`, `SANDBOX_SERVICE_URL`): never from a request's `Host` header, which
 * any caller chooses, so no caller can make a mock deliver a callback (or hand out a link) to a host of its choice.
 */
@Injectable()
export class SandboxUrls {
  constructor(@Inject(sandboxConfig.KEY) private readonly config: ConfigType<typeof sandboxConfig>) {}

  /** The mock's own base, `…/sandbox/<provider>`: the start of the links it answers with. */
  mock(provider: MockProvider): string {
    return mockBase(this.config.baseUrl, provider);
  }

  /** Where the mock delivers its callbacks unless configured otherwise: the service's `/v1/provider-webhooks/<provider>`. */
  callback(provider: MockProvider): string {
    return `${this.config.serviceUrl}/v1/provider-webhooks/${provider}`;
  }
}
