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
    /** How often the fan-out sweep looks for events whose fan-out has not finished. */
    fanOutSweepEveryMs: read.int('EVENT_FAN_OUT_SWEEP_EVERY_MS', 60_000, { min: 100 }),
    /**
     * The process that commits an event hands it to the sinks itself right after the commit; the `fan-out-event` job
     * is queued only when that fails. Off: every event is fanned out by its job.
     */
    fanOutAfterCommit: read.bool('EVENT_FAN_OUT_AFTER_COMMIT', true),
    /** How long after its recording an event not fanned out yet is queued again by the sweep (once per such period). */
    fanOutSweepAfterMs: read.int('EVENT_FAN_OUT_SWEEP_AFTER_MS', 5 * 60_000, { min: 100 }),
    /** How many bytes a stream may have waiting for a client that does not read before it is ended (it reconnects and replays). */
    streamMaxBufferedBytes: read.int('STREAM_MAX_BUFFERED_BYTES', 1024 * 1024, { min: 1024 }),
  });
}

export type EventsConfig = ReturnType<typeof loadEventsConfig>;

export const eventsConfig = registerAs('events', () => loadEventsConfig());
