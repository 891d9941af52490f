import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { HandlesJobs } from '../../queues/job-handlers';
import { wechatNotifyJobId } from '../../queues/job-ids';
import { WechatDelivery, WechatMockNotifications } from './wechat-mock.notifications';
import { WechatMockService } from './wechat-mock.service';
import { Transactions } from '../../database/transactions';

/**
 * The WeChat mock's notifications after their first attempt (`WechatMockNotifications`): when the merchant does not
 * answer 2xx, tried again on WeChat's schedule (`WECHAT_MOCK_NOTIFY_SCHEDULE_MS`), each next attempt a delayed job
 * of its own. Also settles the sandbox's PROCESSING transfers when their time is up.
 */
@HandlesJobs('sandboxWechat', [JOBS.sandboxWechat.settleTransfer, JOBS.sandboxWechat.deliverNotification])
@Processor(QUEUES.sandboxWechat)
export class WechatMockProcessor extends WorkerHost {
  constructor(
    private readonly wechat: WechatMockService,
    private readonly notifications: WechatMockNotifications,
    private readonly outbox: OutboxService,
    private readonly transactions: Transactions,
  ) {
    super();
  }

  async process(job: Job): Promise<unknown> {
    if (job.name === JOBS.sandboxWechat.settleTransfer) {
      const { transferId } = job.data as { transferId: string };
      await this.wechat.settleTransfer(transferId);
      return { settled: transferId };
    }
    if (job.name !== JOBS.sandboxWechat.deliverNotification)
      throw new Error(`No handler for job "${job.name}" on queue ${QUEUES.sandboxWechat}`);
    const delivery = job.data as WechatDelivery;
    const status = await this.notifications.send(delivery);
    if (status >= 200 && status < 300) return { status };
    const wait = this.notifications.nextAttemptInMs(delivery.attempt);
    if (wait === undefined) {
      this.notifications.givenUp(delivery);
      return { status, givenUp: true };
    }
    const next = delivery.attempt + 1;
    await this.transactions.run((manager) =>
      this.outbox.write(manager, {
        queue: QUEUES.sandboxWechat,
        jobName: JOBS.sandboxWechat.deliverNotification,
        jobId: wechatNotifyJobId(delivery.notification.id, delivery.copy, next),
        payload: { ...delivery, attempt: next },
        delayMs: wait,
      }),
    );
    return { status, nextAttemptInMs: wait };
  }
}
