import type { Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { safeErrorForLog } from '../common/errors/safe-error';

/**
 * Removes waiting jobs whose work a committed change has made pointless, so they never reach a worker. Call it
 * only after that commit. A job running now (locked) is not removed and finds nothing to do; a removal that
 * fails is logged and leaves a job that finds nothing. Neither can lose work, since only jobs with nothing left
 * to do are named.
 */
export async function removeSpentJobs(
  queue: Queue,
  jobIds: readonly string[],
  logger: Logger,
  context: Record<string, unknown>,
  whenRefused: string,
): Promise<void> {
  try {
    await Promise.all(jobIds.map((id) => queue.remove(id)));
  } catch (error) {
    logger.warn({ ...context, error: safeErrorForLog(error) }, whenRefused);
  }
}
