import { loadMarketConfig } from '../config';
import type { RateFeed } from './rate-feed.port';
import type { RatesRepository, StoredRate } from './rates.repository';
import { RatesService } from './rates.service';

describe('RatesService: the latest reference, reused for a moment', () => {
  const stored: StoredRate = { rate: 72400n, asOf: new Date(), source: 'test' };
  const setUp = (cacheMs: string, latest: () => Promise<StoredRate | null>) => {
    const repository = { latest: jest.fn(latest), insert: jest.fn(async () => undefined) };
    const service = new RatesService(
      repository as unknown as RatesRepository,
      {} as RateFeed,
      loadMarketConfig({ REFERENCE_RATE_CACHE_MS: cacheMs }),
    );
    return { repository, service };
  };

  it('reads the table once for concurrent and quick successive callers', async () => {
    const { repository, service } = setUp('60000', async () => stored);
    await Promise.all([service.current(), service.current(), service.current()]);
    expect((await service.current())?.rate).toBe(72400n);
    expect(repository.latest).toHaveBeenCalledTimes(1);
  });

  it('reads again once a reference is recorded in this process, or when told to forget', async () => {
    const { repository, service } = setUp('60000', async () => stored);
    await service.current();
    await service.record(72500n, new Date(), 'test');
    await service.current();
    service.forget();
    await service.current();
    expect(repository.latest).toHaveBeenCalledTimes(3);
  });

  it('keeps nothing with a cache of 0 ms, and never keeps a failed read', async () => {
    const uncached = setUp('0', async () => stored);
    await uncached.service.current();
    await uncached.service.current();
    expect(uncached.repository.latest).toHaveBeenCalledTimes(2);

    let fail = true;
    const flaky = setUp('60000', async () => {
      if (fail) throw new Error('connection lost');
      return stored;
    });
    await expect(flaky.service.current()).rejects.toThrow('connection lost');
    fail = false;
    expect((await flaky.service.current())?.rate).toBe(72400n);
  });
});
