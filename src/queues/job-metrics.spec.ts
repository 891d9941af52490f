import type { Job } from 'bullmq';
import { outboxHopSeconds } from './job-metrics';

describe('outboxHopSeconds', () => {
  const job = (fields: Partial<Job> & { opts?: Job['opts'] }) => ({ timestamp: 1000, attemptsMade: 0, opts: {}, ...fields }) as Job;

  it('is the time from the row (the job’s stamp) to its first start', () => {
    expect(outboxHopSeconds(job({}), 1250)).toBe(0.25);
  });

  it('counts only first starts of jobs due at once that came from the outbox', () => {
    expect(outboxHopSeconds(job({ attemptsMade: 1 }), 5000)).toBeUndefined();
    expect(outboxHopSeconds(job({ opts: { delay: 100 } }), 5000)).toBeUndefined();
    expect(outboxHopSeconds(job({ repeatJobKey: 'sweep' }), 5000)).toBeUndefined();
  });
});
