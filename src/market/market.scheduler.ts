import { marketConfig } from '../config';
import { keepPeriodicJobs } from '../queues/periodic-jobs';
import { JOBS, QUEUES } from '../queues/queue-names';

export const MarketScheduler = keepPeriodicJobs(QUEUES.market, [marketConfig], (market) => [
  { name: JOBS.market.sweepExpiredRequests, everyMs: market.expirySweepEveryMs },
]);
