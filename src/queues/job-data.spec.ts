import type { Job } from 'bullmq';
import { jobString } from './job-data';

const job = (name: string, data: unknown) => ({ name, data }) as Job;

describe('jobString', () => {
  it('reads a string field of the job data', () => {
    expect(jobString(job('funding-deadline', { tradeId: 't-1' }), 'tradeId')).toBe('t-1');
  });

  it.each([{}, { tradeId: 42 }, null])('refuses a job without it (%p), naming the job and the field', (data) => {
    expect(() => jobString(job('funding-deadline', data), 'tradeId')).toThrow('funding-deadline needs a tradeId');
  });
});
