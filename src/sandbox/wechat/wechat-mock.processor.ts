import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Job } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { wechatConfig } from '../../config';
import { OutboxService } from '../../outbox/outbox.service';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { AUTH_SCHEME, nonce, responseMessage, rsaSign } from '../../payments/providers/wechat/wechatpay-crypto';
import { HandlesJobs } from '../../queues/job-handlers';
import { wechatNotifyJobId } from '../../queues/job-ids';
import { WechatMockService } from './wechat-mock.service';
import { Transactions } from '../../database/transactions';

interface Delivery {
  notification: { id: string };
  url: string;
  attempt: number;
  copy: number;
}

/**
 * Delivers the WeChat mock's notifications as WeChat does: signed at each attempt (the platform certificate's key,
 * or in public-key mode the public key's)
 * (`Wechatpay-*` headers), and when the merchant does not answer 2xx, tried again on WeChat's schedule
 * (`WECHAT_MOCK_NOTIFY_SCHEDULE_MS`), each next attempt a delayed job of its own. Also settles the sandbox's
 * PROCESSING transfers when their time is up.
 */
@HandlesJobs('sandboxWechat', [JOBS.sandboxWechat.settleTransfer, JOBS.sandboxWechat.deliverNotification])
@Processor(QUEUES.sandboxWechat)
export class WechatMockProcessor extends WorkerHost {
  private readonly logger = new Logger(WechatMockProcessor.name);

  constructor(
    private readonly wechat: WechatMockService,
    private readonly outbox: OutboxService,
    private readonly transactions: Transactions,
    @Inject(wechatConfig.KEY) private readonly config: ConfigType<typeof wechatConfig>,
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
    const delivery = job.data as Delivery;
    const status = await this.send(delivery).catch(() => 0);
    if (status >= 200 && status < 300) return { status };
    const wait = this.config.mockNotifyScheduleMs[delivery.attempt];
    if (wait === undefined) {
      this.logger.warn({ notificationId: delivery.notification.id }, 'WeChat notification given up after its schedule');
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

  private async send({ notification, url }: Delivery): Promise<number> {
    const signer = await this.wechat.signer();
    const body = JSON.stringify(notification);
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const nonceStr = nonce();
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'wechatpay-timestamp': timestamp,
        'wechatpay-nonce': nonceStr,
        'wechatpay-serial': signer.serial,
        'wechatpay-signature': rsaSign(signer.privateKey, responseMessage(timestamp, nonceStr, body)),
        'wechatpay-signature-type': AUTH_SCHEME,
        'request-id': randomUUID(),
      },
      body,
      signal: AbortSignal.timeout(10000),
    });
    await response.arrayBuffer().catch(() => undefined);
    return response.status;
  }
}
