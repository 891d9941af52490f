import { PLATFORM_SHARDS, shardOf } from './ledger.service';

describe('shardOf', () => {
  it('spreads trades over the platform shards, the same shard for the same trade', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 256; i += 1) {
      const id = `${i.toString(16).padStart(2, '0')}000000-0000-4000-8000-000000000000`;
      const shard = shardOf(id);
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(PLATFORM_SHARDS);
      expect(shardOf(id)).toBe(shard);
      seen.add(shard);
    }
    expect(seen.size).toBe(PLATFORM_SHARDS);
  });
});
