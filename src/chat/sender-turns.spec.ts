import { SenderTurns } from './sender-turns';

describe('SenderTurns', () => {
  it("runs one sender's posts one at a time, in arrival order, and other senders' beside them", async () => {
    const turns = new SenderTurns();
    const log: string[] = [];
    let release!: () => void;
    const first = turns.run('a', 5, async () => {
      log.push('a1 start');
      await new Promise<void>((resolve) => (release = resolve));
      log.push('a1 end');
    });
    const second = turns.run('a', 5, async () => log.push('a2'));
    const other = turns.run('b', 5, async () => log.push('b1'));
    await other;
    expect(log).toEqual(['a1 start', 'b1']);
    expect(turns.inFlight('a')).toBe(2);
    release();
    await Promise.all([first, second]);
    expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
    expect(turns.inFlight('a')).toBe(0);
  });

  it('refuses, without running it, a post beyond `max` waiting or running; a failed one frees its place', async () => {
    const turns = new SenderTurns();
    let release!: () => void;
    const held = turns.run('a', 2, () => new Promise<void>((resolve) => (release = resolve)));
    const failing = turns.run('a', 2, () => Promise.reject(new Error('refused')));
    let ran = false;
    expect(
      turns.run('a', 2, async () => {
        ran = true;
      }),
    ).toBeUndefined();
    await new Promise(setImmediate);
    release();
    await held;
    await expect(failing).rejects.toThrow('refused');
    expect(ran).toBe(false);
    expect(turns.inFlight('a')).toBe(0);
    await expect(turns.run('a', 2, async () => 'stored')).resolves.toBe('stored');
  });
});
