import type { Redis } from 'ioredis';

/*
 * A bounded set of holders under one key, shared by every process: a sorted set with a member per holder, scored
 * by when its lease ends (Redis's clock, so every process agrees). A lease runs out unless renewed, so a crashed
 * process's places free themselves.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** Takes a place for `holder` if fewer than `limit` leases under `key` are live; false when they are all taken. */
export async function takeLease(redis: Redis, key: string, limit: number, holder: string, leaseMs: number): Promise<boolean> {
  return Number(await redis.eval(TAKE, 1, key, limit, holder, leaseMs)) === 1;
}

/** Extends `holder`'s lease by `leaseMs` from now. */
export async function renewLease(redis: Redis, key: string, holder: string, leaseMs: number): Promise<void> {
  await redis.eval(RENEW, 1, key, holder, leaseMs);
}

export async function releaseLease(redis: Redis, key: string, holder: string): Promise<void> {
  await redis.zrem(key, holder);
}
