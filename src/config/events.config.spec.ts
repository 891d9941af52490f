import { ConfigError, loadEventsConfig } from '.';

describe('events configuration', () => {
  it('defaults to 5 streams per user, a heartbeat every 15 s and events kept 25 hours', () => {
    expect(loadEventsConfig({})).toEqual({
      streamsPerUser: 5,
      streamHeartbeatMs: 15000,
      retentionMs: 25 * 3600 * 1000,
      purgeEveryMs: 3600 * 1000,
      fanOutSweepEveryMs: 60_000,
      fanOutAfterCommit: true,
      fanOutSweepAfterMs: 5 * 60_000,
      streamMaxBufferedBytes: 1024 * 1024,
    });
  });

  it('refuses a heartbeat longer than 15 s and a retention shorter than the 24 hours a stream replays', () => {
    let error: ConfigError | undefined;
    try {
      loadEventsConfig({ STREAM_HEARTBEAT_MS: '20000', EVENT_RETENTION_MS: '3600000', STREAMS_PER_USER: '0' });
    } catch (caught) {
      error = caught as ConfigError;
    }
    expect(error?.problems).toEqual([
      'STREAMS_PER_USER must be >= 1, got 0',
      'STREAM_HEARTBEAT_MS must be <= 15000, got 20000',
      'EVENT_RETENTION_MS must be >= 86400000, got 3600000',
    ]);
  });
});
