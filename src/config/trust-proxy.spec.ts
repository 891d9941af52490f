import { ConfigError, loadHttpConfig, loadSignInConfig } from '.';
import { fastifyTrustProxy } from './trust-proxy';

describe('TRUST_PROXY', () => {
  const read = (value?: string) => loadHttpConfig(value === undefined ? {} : { TRUST_PROXY: value }).trustProxy;

  it('trusts no proxy by default, nor for false or 0', () => {
    expect(read()).toBe(false);
    expect(read('false')).toBe(false);
    expect(read('0')).toBe(false);
  });

  it('reads true as one hop, never as every hop', () => {
    expect(read('true')).toBe(1);
    expect(read('TRUE')).toBe(1);
  });

  it('reads a hop count', () => {
    expect(read('2')).toBe(2);
    expect(() => read('11')).toThrow(ConfigError);
  });

  it('reads a list of addresses and CIDRs', () => {
    expect(read('10.0.0.1, 192.168.0.0/16,::1,fd00::/8,loopback')).toEqual(['10.0.0.1', '192.168.0.0/16', '::1', 'fd00::/8', 'loopback']);
  });

  it('refuses anything else, naming the variable', () => {
    for (const bad of [
      'maybe',
      '0.0.0.0/0',
      '::/0',
      'fe80::1%eth0',
      '10.0.0.1/33',
      '10.0.0/8',
      'proxy.internal',
      '::1/129',
      '10.0.0.1/8/8',
      '-1',
    ])
      expect(() => read(bad)).toThrow(/TRUST_PROXY/);
  });

  it('gives Fastify a hop count as a function of the hop (Fastify reads a bare number as no proxy)', () => {
    const trust = fastifyTrustProxy(1) as (address: string, hop: number) => boolean;
    expect([trust('127.0.0.1', 0), trust('9.9.9.9', 1)]).toEqual([true, false]);
    expect(fastifyTrustProxy(false)).toBe(false);
    expect(fastifyTrustProxy(['10.0.0.1'])).toEqual(['10.0.0.1']);
  });
});

describe('sign-in throttling settings', () => {
  it('defaults to 5 failures in 15 minutes and refuses nonsense', () => {
    expect(loadSignInConfig({})).toEqual({ maxFailures: 5, failureWindowMs: 900000 });
    expect(() => loadSignInConfig({ LOGIN_MAX_FAILURES: '0' })).toThrow(/LOGIN_MAX_FAILURES/);
    expect(() => loadSignInConfig({ LOGIN_FAILURE_WINDOW_MS: 'soon' })).toThrow(/LOGIN_FAILURE_WINDOW_MS/);
  });
});
