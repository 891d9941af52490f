import { HeardNumbers } from './heard-numbers';

describe('HeardNumbers', () => {
  it('starts a run at the first number heard: nothing below it is known', () => {
    const heard = new HeardNumbers();
    expect(heard.hear(10n)).toBe(9n);
    expect(heard.hear(11n)).toBe(9n);
    expect(heard.hear(12n)).toBe(9n);
  });

  it('answers null for a number heard before one below it, and gapless again once the gap fills', () => {
    const heard = new HeardNumbers();
    heard.hear(5n);
    expect(heard.hear(7n)).toBeNull();
    expect(heard.hear(8n)).toBeNull();
    // 6 fills the gap: 7 and 8 were heard already, and the run now reaches 8.
    expect(heard.hear(6n)).toBe(4n);
    expect(heard.hear(9n)).toBe(4n);
  });

  it('answers a repeat within the run, and null for one below it', () => {
    const heard = new HeardNumbers();
    heard.hear(5n);
    heard.hear(6n);
    expect(heard.hear(6n)).toBe(4n);
    expect(heard.hear(3n)).toBeNull();
  });

  it('gives up a gap that never fills once too many numbers wait above it', () => {
    const heard = new HeardNumbers();
    heard.hear(1n);
    let last: bigint | null = null;
    for (let n = 3n; n <= 1002n; n += 1n) last = heard.hear(n);
    expect(last).toBeNull();
    // The 1,001st number waiting above the gap starts a new run at itself.
    expect(heard.hear(1003n)).toBe(1002n);
    expect(heard.hear(1004n)).toBe(1002n);
    expect(heard.hear(2n)).toBeNull();
  });
});
