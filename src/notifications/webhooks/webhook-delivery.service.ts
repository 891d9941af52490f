import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ConfigType } from '@nestjs/config';
import { FieldEncryption } from '../../common/crypto/field-encryption';
import { signPayload } from '../../common/crypto/hmac-signature';
import { safeErrorForLog } from '../../common/errors';
import { webhooksConfig } from '../../config';
import { webhookRetryDelayMs } from '../../queues/retry-policies';
import { Envelope, EnvelopeBuilder } from '../envelopes';
import { WEBHOOK_SECRET_CONTEXT } from './delivery-job';
import { EndpointSlots } from './endpoint-slots';
import { AttemptOutcome, sendDelivery } from './webhook-sender';
import { DeliveryTarget, WebhooksRepository } from './webhooks.repository';

/** Thrown to have BullMQ run the attempt again after its backoff; the delivery log says why already. */
export class DeliveryAttemptFailed extends Error {
  override readonly name = 'DeliveryAttemptFailed';
}

/** Where a delivery's job stands in BullMQ: attempts failed before this one, attempts in all, the first backoff. */
export interface AttemptContext {
  attemptsMade: number;
  attempts: number;
  backoffMs: number;
}

/** `busy`: the endpoint had WEBHOOK_CONCURRENCY_PER_ENDPOINT attempts under way; nothing was sent or counted. */
export type AttemptResult = 'delivered' | 'failed' | 'abandoned' | 'done' | 'busy';

/**
 * One attempt of one delivery: the endpoint read again (deleted or disabled: nothing more is tried), the envelope
 * built for its owner at this moment, signed afresh with the endpoint's secret, sent to the checked address. The
 * log row is written after the call, in its own short transaction: none is open while the receiver answers.
 */
@Injectable()
export class WebhookDeliveryService {
  private readonly logger = new Logger(WebhookDeliveryService.name);

  constructor(
    private readonly webhooks: WebhooksRepository,
    private readonly envelopes: EnvelopeBuilder,
    private readonly encryption: FieldEncryption,
    private readonly slots: EndpointSlots,
    @Inject(webhooksConfig.KEY) private readonly config: ConfigType<typeof webhooksConfig>,
  ) {}

  /**
   * Throws DeliveryAttemptFailed when the attempt failed and another follows. An unexpected error is thrown too,
   * for BullMQ to retry, except on the job's last attempt: then the delivery has failed (counted toward disabling
   * the endpoint), rather than stay pending with no job left.
   */
  async attempt(deliveryId: string, job: AttemptContext): Promise<AttemptResult> {
    try {
      return await this.tryOnce(deliveryId, job);
    } catch (error) {
      if (error instanceof DeliveryAttemptFailed || job.attemptsMade + 1 < job.attempts) throw error;
      this.logger.error({ deliveryId, error: safeErrorForLog(error) }, 'Webhook delivery failed on an unexpected error');
      await this.webhooks.markFailed(
        deliveryId,
        { statusCode: null, error: 'The attempt could not be made' },
        this.config.disableAfterFailures,
      );
      return 'failed';
    }
  }

  private async tryOnce(deliveryId: string, job: AttemptContext): Promise<AttemptResult> {
    const target = await this.webhooks.target(deliveryId);
    if (!target || target.status !== 'pending') return 'done';
    if (target.endpointDeleted || !target.secret) return this.abandon(deliveryId, 'The endpoint was deleted');
    if (!target.endpointEnabled) return this.abandon(deliveryId, 'The endpoint is disabled');
    const envelope = await this.envelopeOf(target);
    if (!envelope) return this.abandon(deliveryId, 'The event is no longer kept');

    const body = JSON.stringify(envelope);
    const secret = this.encryption.decrypt(target.secret, WEBHOOK_SECRET_CONTEXT);
    const headers = {
      'content-type': 'application/json',
      'x-signature': signPayload(secret, body),
      'x-event-id': envelope.id,
      'x-event-type': envelope.type,
    };
    const holder = randomUUID();
    if (!(await this.slots.acquire(target.endpointId, holder))) return 'busy';
    let outcome: AttemptOutcome;
    try {
      outcome = await sendDelivery(target.url, headers, body, { allowedHosts: this.config.allowedHosts });
    } finally {
      await this.slots.release(target.endpointId, holder).catch(() => undefined);
    }
    if (outcome.delivered) {
      await this.webhooks.markDelivered(deliveryId, outcome.statusCode!);
      return 'delivered';
    }
    const failure = { statusCode: outcome.statusCode, error: outcome.error ?? 'Not acknowledged' };
    // The job's own count, or the log's (a job the sweep queued again starts its count afresh).
    const last = job.attemptsMade + 1 >= job.attempts || target.attempts + 1 >= this.config.attempts;
    if (!last) {
      await this.webhooks.markRetrying(deliveryId, failure, webhookRetryDelayMs(job.attemptsMade + 1, job.backoffMs));
      throw new DeliveryAttemptFailed(failure.error);
    }
    if (await this.webhooks.markFailed(deliveryId, failure, this.config.disableAfterFailures)) {
      this.logger.warn({ endpointId: target.endpointId }, 'Webhook endpoint disabled after a run of failed events');
    }
    return 'failed';
  }

  /** When a delivery whose endpoint was busy asks again: the configured delay and up to as much again, so they spread out. */
  busyRetryAt(now = Date.now()): number {
    return now + this.config.endpointBusyDelayMs + Math.floor(Math.random() * this.config.endpointBusyDelayMs);
  }

  private async abandon(deliveryId: string, reason: string): Promise<AttemptResult> {
    await this.webhooks.abandon(deliveryId, reason);
    return 'abandoned';
  }

  /** A ping carries nothing but itself; any other event is built for its recipient as it stands now. */
  private async envelopeOf(target: DeliveryTarget): Promise<Envelope | null> {
    if (target.eventType === 'ping') {
      return { id: target.eventId, type: 'ping', createdAt: target.createdAt.toISOString(), data: {} };
    }
    if (!target.recipientRole) return null;
    return this.envelopes.forRecipient(target.eventId, { userId: target.userId, role: target.recipientRole });
  }
}
