import { QueueKeys } from 'bullmq';
import { ALL_QUEUES } from './queue-names';
import { deploymentKeyPattern, hashTagOf, queueKeyPrefix } from './queue-keys';

/** Every key BullMQ makes for a queue: its fixed keys, a job's hash and lock, a scheduler's and a deduplication's. */
function keysOf(queue: string, deploymentPrefix: string): string[] {
  const keys = new QueueKeys(queueKeyPrefix(deploymentPrefix, queue));
  const job = keys.toKey(queue, 'settle-trade-1f0c');
  return [
    ...Object.values(keys.getKeys(queue)),
    job,
    `${job}:lock`,
    `${job}:logs`,
    keys.toKey(queue, 'repeat:sweep'),
    keys.toKey(queue, 'de:x'),
  ];
}

/** Redis's glob, as far as the patterns here use it: `\x` a literal, `[…]` one of, `*` anything. */
function globMatches(pattern: string, key: string): boolean {
  const source = pattern.replace(/\\(.)|(\[[^\]]*\])|(\*)|([^\\[*]+)/g, (_, literal, set, star, text) => {
    if (literal !== undefined) return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (set !== undefined) return set.replace(/([{}])/g, '\\$1');
    if (star !== undefined) return '.*';
    return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${source}$`).test(key);
}

describe('queue keys', () => {
  it.each(ALL_QUEUES)('puts every key of the %s queue under its own hash tag', (queue) => {
    const keys = keysOf(queue, '{yb}');
    expect(keys.length).toBeGreaterThan(10);
    expect(keys.filter((key) => hashTagOf(key) !== `yb:${queue}`)).toEqual([]);
  });

  it('gives each queue a different tag, so a Redis Cluster can place them on different slots', () => {
    const tags = new Set(ALL_QUEUES.map((queue) => hashTagOf(keysOf(queue, '{yb}')[0])));
    expect(tags.size).toBe(ALL_QUEUES.length);
  });

  it("keeps one deployment's keys apart from another's", () => {
    expect(hashTagOf(keysOf('settlement', '{ybt_1a2b}')[0])).toBe('ybt_1a2b:settlement');
    const pattern = deploymentKeyPattern('{yb}');
    expect(
      ['{yb}:throttle:x', '{yb:settlement}:settlement:wait', '{yb:sandbox-bank}:sandbox-bank:meta'].filter((k) => !globMatches(pattern, k)),
    ).toEqual([]);
    expect(['{yb2}:throttle:x', '{yb2:settlement}:settlement:wait', '{yb_2}:x', 'yb:x'].filter((k) => globMatches(pattern, k))).toEqual([]);
  });

  it('refuses a deployment prefix that is not one hash tag', () => {
    for (const bad of ['yb', '{yb:x}', '{}', '{yb}x']) expect(() => queueKeyPrefix(bad, 'settlement')).toThrow('Not a deployment prefix');
  });

  it('reads hash tags as Redis Cluster does', () => {
    expect(hashTagOf('{a}b')).toBe('a');
    expect(hashTagOf('x{a}{b}')).toBe('a');
    expect(hashTagOf('{}a')).toBe('{}a');
    expect(hashTagOf('plain')).toBe('plain');
  });
});
