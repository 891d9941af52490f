import { queuedWhenSet, sweepHorizonMs } from './sweep-horizon';

describe('sweepHorizonMs', () => {
  it('is two sweep periods and a half, at least a second more than two', () => {
    expect(sweepHorizonMs(60000)).toBe(150000);
    expect(sweepHorizonMs(500)).toBe(2000);
    expect(sweepHorizonMs(100)).toBe(1200);
  });

  it('leaves the default windows to the sweep, and queues a window within the horizon at once', () => {
    expect(queuedWhenSet(30 * 60 * 1000, 60000)).toBe(false);
    expect(queuedWhenSet(24 * 60 * 60 * 1000, 60000)).toBe(false);
    expect(queuedWhenSet(150000, 60000)).toBe(true);
    expect(queuedWhenSet(1500, 60000)).toBe(true);
  });

  it('stays exact past 2^31 ms (a sweep every month)', () => {
    const month = 30 * 24 * 60 * 60 * 1000;
    expect(sweepHorizonMs(month)).toBe(2.5 * month);
    expect(queuedWhenSet(2 * month, month)).toBe(true);
  });
});
