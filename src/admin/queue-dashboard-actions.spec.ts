import { actionName } from './queue-dashboard-actions';

describe('queue dashboard action names', () => {
  it('names an action by the route words, without its parameters', () => {
    expect(actionName('/api/queues/:queueName/:jobId/retry')).toBe('queues.retry');
    expect(actionName('/api/queues/:queueName/retry/:queueStatus')).toBe('queues.retry');
    expect(actionName('/api/queues/:queueName/:jobId/clean')).toBe('queues.clean');
    expect(actionName('/api/queues/pause')).toBe('queues.pause');
    expect(actionName('/api/queues/:queueName/job-schedulers/:schedulerId/remove')).toBe('queues.job-schedulers.remove');
    expect(actionName('/api/queues/:queueName/job-schedulers/:schedulerId')).toBe('queues.job-schedulers');
  });
});
