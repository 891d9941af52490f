import { registerAs } from '@nestjs/config';
import { EnvReader } from './env';

const DAY_MS = 24 * 60 * 60 * 1000;
const TEN_YEARS_MS = 10 * 365 * DAY_MS;

export function loadChatConfig(env = process.env) {
  const read = new EnvReader(env);
  const config = {
    /** How long after a trade ends its parties may still post messages (then 409 `trade_closed`). Used only as an SQL interval. */
    messageWindowAfterEndMs: read.int('MESSAGE_WINDOW_AFTER_END_MS', 7 * DAY_MS, { min: 1000, max: TEN_YEARS_MS }),
    /** How long after a trade ends its messages' texts are kept; then erased. Over 2^31 by default: only ever an SQL interval. */
    messageRetentionMs: read.int('MESSAGE_RETENTION_MS', 30 * DAY_MS, { min: 1000, max: TEN_YEARS_MS }),
    /** How often the housekeeping job erases the texts whose retention has passed. */
    messageRetentionSweepEveryMs: read.int('MESSAGE_RETENTION_SWEEP_EVERY_MS', 60 * 60 * 1000, { min: 100 }),
    /** Messages one user may post in a minute, over all their trades (then 429 `rate_limited`). */
    messagesPerMinute: read.int('MESSAGES_PER_MINUTE', 30, { min: 1, max: 10000 }),
  };
  // A message posted at the window's last moment would otherwise be erased at once, or outlive the retention.
  if (config.messageWindowAfterEndMs >= config.messageRetentionMs) {
    read.fail(
      `MESSAGE_WINDOW_AFTER_END_MS (${config.messageWindowAfterEndMs}) must be shorter than MESSAGE_RETENTION_MS (${config.messageRetentionMs})`,
    );
  }
  return read.done(config);
}

export type ChatConfig = ReturnType<typeof loadChatConfig>;

export const chatConfig = registerAs('chat', () => loadChatConfig());
