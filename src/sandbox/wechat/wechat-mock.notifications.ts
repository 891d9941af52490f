import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { wechatConfig } from '../../config';
import { OutboxPublisher, WorkRunFirst } from '../../outbox/outbox.publisher';
import { AUTH_SCHEME, nonce, responseMessage, rsaSign } from '../../payments/providers/wechat/wechatpay-crypto';
import { JOBS, QUEUES } from '../../queues/queue-names';
import { WechatMockService } from './wechat-mock.service';
import { providerRequest } from '../../payments/providers/provider-http';

/** The mock's own name on its notifications (the merchant's route reads only the Wechatpay-* headers). */
const NOTIFICATION_USER_AGENT = 'Yuanbridge-Sandbox WeChat Pay notifications';

/** A notification's delivery: which copy (a duplicated one has two) and which attempt on WeChat's schedule. */
export interface WechatDelivery {
  notification: { id: string };
  url: string;
  attempt: number;
  copy: number;
}

/**
 * Sends the WeChat mock's notifications as WeChat does: signed at each attempt (the platform certificate's key, or in
 * public-key mode the public key's) with the `Wechatpay-*` headers.
 *
 * The first attempt is made by the process that committed the notification, right after the commit
 * (`OutboxPublisher.runFirst`): most notifications never become a job. When the merchant does not answer 2xx, the
 * next attempt is the job, due on WeChat's schedule (`WECHAT_MOCK_NOTIFY_SCHEDULE_MS`); the job is also the first
 * attempt when this one could not finish, or the relay's when this process died first (`WechatMockProcessor`).
 */
@Injectable()
export class WechatMockNotifications implements OnModuleInit {
  private readonly logger = new Logger(WechatMockNotifications.name);

  constructor(
    private readonly wechat: WechatMockService,
    private readonly publisher: OutboxPublisher,
    @Inject(wechatConfig.KEY) private readonly config: ConfigType<typeof wechatConfig>,
  ) {}

  onModuleInit(): void {
    this.publisher.runFirst(QUEUES.sandboxWechat, JOBS.sandboxWechat.deliverNotification, (row, timeoutMs) =>
      this.firstAttempt(row.payload as unknown as WechatDelivery, timeoutMs),
    );
  }

  /** One attempt: the merchant's answer, 0 when there was none. */
  async send({ notification, url }: WechatDelivery, timeoutMs = 10000): Promise<number> {
    const signer = await this.wechat.signer();
    const body = JSON.stringify(notification);
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const nonceStr = nonce();
    const response = await providerRequest(url, {
      method: 'POST',
      headers: {
        'user-agent': NOTIFICATION_USER_AGENT,
        'content-type': 'application/json',
        'wechatpay-timestamp': timestamp,
        'wechatpay-nonce': nonceStr,
        'wechatpay-serial': signer.serial,
        'wechatpay-signature': rsaSign(signer.privateKey, responseMessage(timestamp, nonceStr, body)),
        'wechatpay-signature-type': AUTH_SCHEME,
        'request-id': randomUUID(),
      },
      body,
      timeoutMs,
    }).catch(() => undefined);
    return response?.status ?? 0;
  }

  /** When the schedule's next step after `attempt` is due, if there is one. */
  nextAttemptInMs(attempt: number): number | undefined {
    return this.config.mockNotifyScheduleMs[attempt];
  }

  givenUp(delivery: WechatDelivery): void {
    this.logger.warn({ notificationId: delivery.notification.id }, 'WeChat notification given up after its schedule');
  }

  /** The attempt right after the commit; a refused one leaves the next attempt to the job, on the schedule. */
  private async firstAttempt(delivery: WechatDelivery, timeoutMs: number): Promise<WorkRunFirst> {
    const status = await this.send(delivery, timeoutMs);
    if (status >= 200 && status < 300) return { done: true };
    const wait = this.nextAttemptInMs(delivery.attempt);
    if (wait === undefined) {
      this.givenUp(delivery);
      return { done: true };
    }
    return { done: false, payload: { ...delivery, attempt: delivery.attempt + 1 }, delayMs: wait };
  }
}
