import { loadChatConfig } from './chat.config';
import { ConfigError } from './env';

describe('chat config', () => {
  it('defaults to a 7-day window after the end, 30 days of retention (past a 32-bit integer), 30 messages a minute', () => {
    const config = loadChatConfig({});
    expect(config.messageWindowAfterEndMs).toBe(604_800_000);
    expect(config.messageRetentionMs).toBe(2_592_000_000);
    expect(config.messageRetentionMs).toBeGreaterThan(2 ** 31 - 1);
    expect(config.messageRetentionSweepEveryMs).toBe(3_600_000);
    expect(config.messagesPerMinute).toBe(30);
  });

  it('refuses what is not a whole number of milliseconds in range, naming the variable', () => {
    for (const name of ['MESSAGE_WINDOW_AFTER_END_MS', 'MESSAGE_RETENTION_MS']) {
      for (const value of ['7d', '1.5', '-1', '999', '315360000001']) {
        expect(() => loadChatConfig({ [name]: value })).toThrow(ConfigError);
        expect(() => loadChatConfig({ [name]: value })).toThrow(new RegExp(name));
      }
    }
    expect(() => loadChatConfig({ MESSAGES_PER_MINUTE: '0' })).toThrow(/MESSAGES_PER_MINUTE/);
  });

  it('refuses a window after the end as long as the retention or longer, naming both variables', () => {
    for (const [window, retention] of [
      ['5000', '5000'],
      ['6000', '5000'],
      [String(31 * 24 * 3600 * 1000), undefined],
    ]) {
      const env = { MESSAGE_WINDOW_AFTER_END_MS: window, ...(retention ? { MESSAGE_RETENTION_MS: retention } : {}) };
      expect(() => loadChatConfig(env)).toThrow(ConfigError);
      expect(() => loadChatConfig(env)).toThrow(/MESSAGE_WINDOW_AFTER_END_MS .*MESSAGE_RETENTION_MS/);
    }
    expect(loadChatConfig({ MESSAGE_WINDOW_AFTER_END_MS: '4999', MESSAGE_RETENTION_MS: '5000' }).messageWindowAfterEndMs).toBe(4999);
  });
});
