import { byQueue, outboxJob, PublishableRow } from './outbox-jobs';

describe('outbox rows as BullMQ jobs', () => {
  const row: PublishableRow = {
    id: '7',
    queue: 'settlement',
    jobName: 'settle-trade',
    jobId: 'settle-t1-released',
    payload: { tradeId: 't1' },
    remainingDelayMs: 0,
    options: { attempts: 3, backoffMs: 500, backoffType: 'poll', backoffCapMs: 4000 },
    dueAtMs: 1_700_000_000_000,
  };

  it('stamps a job due at once with its due time, and gives a delayed one its delay instead', () => {
    expect(outboxJob(row)).toEqual({
      name: 'settle-trade',
      data: { tradeId: 't1' },
      opts: {
        jobId: 'settle-t1-released',
        timestamp: 1_700_000_000_000,
        attempts: 3,
        backoff: { type: 'poll', delay: 500, capMs: 4000 },
      },
    });
    expect(outboxJob({ ...row, remainingDelayMs: 60000, options: {} }).opts).toEqual({ jobId: 'settle-t1-released', delay: 60000 });
  });

  it('groups rows by queue, each in its order', () => {
    const rows = [
      { queue: 'a', id: 1 },
      { queue: 'b', id: 2 },
      { queue: 'a', id: 3 },
    ];
    expect([...byQueue(rows).entries()]).toEqual([
      ['a', [rows[0], rows[2]]],
      ['b', [rows[1]]],
    ]);
  });
});
