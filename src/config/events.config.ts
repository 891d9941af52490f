import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

const HOUR = 3600 * 1000;

export function loadEventsConfig(env = process.env) {
  const read = new EnvReader(env);
  return read.done({
    /** Open event streams a user may hold at once, across every API process (`GET /v1/stream`, a trade's stream). */
    streamsPerUser: read.int('STREAMS_PER_USER', 5, { min: 1, max: 100 }),
    /** How often an open stream sends a comment line, so proxies and clients keep it open (API.md: at least every 15 s). */
    streamHeartbeatMs: read.int('STREAM_HEARTBEAT_MS', 15000, { min: 50, max: 15000 }),
    /** How long an event is kept (and so how far back a reconnecting stream can replay): a day, and an hour of margin. */
    retentionMs: read.int('EVENT_RETENTION_MS', 25 * HOUR, { min: 24 * HOUR }),
    /** How often the purge of older events runs. */
    purgeEveryMs: read.int('EVENT_PURGE_EVERY_MS', HOUR, { min: 1000 }),
  });
}

export type EventsConfig = ReturnType<typeof loadEventsConfig>;

export const eventsConfig = registerAs('events', () => loadEventsConfig());
