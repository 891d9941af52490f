import { ConfigError } from './env';
import { loadTradesConfig } from './trades.config';

describe('HANDLE_RETENTION_MS', () => {
  it('defaults to 30 days, a duration past a 32-bit integer kept exactly', () => {
    const config = loadTradesConfig({});
    expect(config.handleRetentionMs).toBe(2_592_000_000);
    expect(config.handleRetentionMs).toBeGreaterThan(2 ** 31 - 1);
    expect(config.handleRetentionSweepEveryMs).toBe(3_600_000);
  });

  it('takes a shorter or a longer period, up to ten years', () => {
    expect(loadTradesConfig({ HANDLE_RETENTION_MS: '60000' }).handleRetentionMs).toBe(60000);
    expect(loadTradesConfig({ HANDLE_RETENTION_MS: '315360000000' }).handleRetentionMs).toBe(315_360_000_000);
  });

  it('refuses what is not a whole number of milliseconds in range, naming the variable', () => {
    for (const value of ['30d', '1.5', '-1', '999', '315360000001']) {
      expect(() => loadTradesConfig({ HANDLE_RETENTION_MS: value })).toThrow(ConfigError);
      expect(() => loadTradesConfig({ HANDLE_RETENTION_MS: value })).toThrow(/HANDLE_RETENTION_MS/);
    }
  });
});
