import helmet from 'helmet';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { securityHeaders } from './security-headers';

describe('securityHeaders', () => {
  it("are the headers helmet's middleware sets on a real response, computed once", () => {
    const options = { contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:'] } } };
    const response = new ServerResponse(new IncomingMessage(new Socket()));
    helmet(options)(response.req, response, () => undefined);
    const precomputed = securityHeaders(options);
    expect(Object.fromEntries(precomputed.map(([name, value]) => [name.toLowerCase(), value]))).toEqual(response.getHeaders());
    expect(precomputed.length).toBeGreaterThanOrEqual(10);
  });

  it('refuses a policy computed per request (a nonce), which would be frozen at its first value', () => {
    const perRequest = { contentSecurityPolicy: { directives: { scriptSrc: ["'self'", () => "'nonce-abc'"] } } };
    expect(() => securityHeaders(perRequest)).toThrow(/computed per request/);
  });
});
