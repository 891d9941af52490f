import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AuthUser } from '../../common/auth/auth-user';
import { FieldEncryption } from '../../common/crypto/field-encryption';
import { DomainError } from '../../common/errors';
import { Cursors } from '../../common/http/cursors';
import { Page, pageSize, PageQuery, toPage } from '../../common/http/pagination';
import { resolvePublicTarget, TargetRefused } from '../../common/http/public-target';
import { isTimeCursor } from '../../common/http/time-cursor';
import { webhooksConfig } from '../../config';
import { OutboxService } from '../../outbox/outbox.service';
import { deliveryJob, WEBHOOK_SECRET_CONTEXT } from './delivery-job';
import type {
  CreatedWebhookEndpointView,
  CreateWebhookEndpointDto,
  WebhookDeliveriesQuery,
  WebhookDeliveryView,
  WebhookEndpointView,
} from './dto/webhooks.dto';
import { presentDelivery, presentEndpoint } from './webhooks.presenter';
import { WebhooksRepository } from './webhooks.repository';
import { Transactions } from '../../database/transactions';

/** How long registration waits for the URL's host to resolve. */
const REGISTRATION_LOOKUP_MS = 5000;

/**
 * A user's webhook endpoints: registration (the URL checked, the secret made and shown once, stored encrypted
 * since every attempt is signed with it), listing, deletion, enabling again, pings, and the delivery log.
 * Another user's endpoint is 404, as if it did not exist.
 */
@Injectable()
export class WebhookEndpointsService {
  constructor(
    private readonly transactions: Transactions,
    private readonly webhooks: WebhooksRepository,
    private readonly outbox: OutboxService,
    private readonly encryption: FieldEncryption,
    @Inject(webhooksConfig.KEY) private readonly config: ConfigType<typeof webhooksConfig>,
    private readonly cursors: Cursors,
  ) {}

  async create(caller: AuthUser, input: CreateWebhookEndpointDto): Promise<CreatedWebhookEndpointView> {
    const url = await this.checkedUrl(input.url);
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    const sealed = this.encryption.encrypt(secret, WEBHOOK_SECRET_CONTEXT);
    const row = await this.transactions.run(async (manager) => {
      // The owner's row, so two registrations at once cannot both pass the count.
      if (!(await this.webhooks.lockOwner(manager, caller.id))) throw new DomainError('unauthenticated', 'The account no longer exists');
      if ((await this.webhooks.countLive(manager, caller.id)) >= this.config.maxEndpointsPerUser) {
        throw new DomainError(
          'conflict',
          `An account may have at most ${this.config.maxEndpointsPerUser} webhook endpoints; delete one first`,
        );
      }
      return this.webhooks.insertEndpoint(manager, {
        userId: caller.id,
        url,
        events: input.events ? [...input.events] : null,
        secret: sealed,
      });
    });
    return { ...presentEndpoint(row), secret };
  }

  async list(caller: AuthUser, query: PageQuery): Promise<Page<WebhookEndpointView>> {
    const limit = pageSize(query);
    const cursors = this.cursors.of('webhook-endpoints', isTimeCursor);
    const after = query.cursor ? cursors.decode(query.cursor) : undefined;
    const rows = await this.webhooks.listLive(caller.id, limit + 1, after && { createdAt: after.t, id: after.id });
    return toPage(rows, limit, presentEndpoint, (row) => ({ t: row.createdAt.toISOString(), id: row.id }), cursors);
  }

  async delete(caller: AuthUser, id: string): Promise<WebhookEndpointView> {
    const row = await this.webhooks.softDelete(caller.id, id);
    if (!row) throw DomainError.notFound('Webhook endpoint');
    return presentEndpoint(row);
  }

  async enable(caller: AuthUser, id: string): Promise<WebhookEndpointView> {
    const row = await this.webhooks.enable(caller.id, id);
    if (!row) throw DomainError.notFound('Webhook endpoint');
    return presentEndpoint(row);
  }

  /** A `ping` event for this endpoint alone, delivered like any other (signed, retried); a disabled endpoint → 409: enable it first. */
  async ping(caller: AuthUser, id: string): Promise<WebhookDeliveryView> {
    const delivery = await this.transactions.run(async (manager) => {
      const endpoint = await this.webhooks.lockOwned(manager, caller.id, id);
      if (!endpoint) throw DomainError.notFound('Webhook endpoint');
      if (!endpoint.enabled) throw new DomainError('invalid_state_transition', 'The endpoint is disabled: enable it first');
      const row = (await this.webhooks.insertDelivery(manager, {
        endpointId: endpoint.id,
        eventId: randomUUID(),
        eventType: 'ping',
        recipientRole: null,
      }))!;
      await this.outbox.write(manager, deliveryJob(row.id, this.config));
      return row;
    });
    return presentDelivery(delivery);
  }

  async deliveries(caller: AuthUser, query: WebhookDeliveriesQuery): Promise<Page<WebhookDeliveryView>> {
    const limit = pageSize(query);
    const cursors = this.cursors.of('webhook-deliveries', isTimeCursor);
    const before = query.cursor ? cursors.decode(query.cursor) : undefined;
    const rows = await this.webhooks.listDeliveries(
      caller.id,
      { endpointId: query.endpointId, eventType: query.eventType, status: query.status },
      limit + 1,
      before && { createdAt: before.t, id: before.id },
    );
    return toPage(rows, limit, presentDelivery, (row) => ({ t: row.createdAt.toISOString(), id: row.id }), cursors);
  }

  /** The URL as it will be called (normalized), once its host resolves only to addresses it may; 400 otherwise. */
  private async checkedUrl(raw: string): Promise<string> {
    try {
      const target = await resolvePublicTarget(raw, { allowedHosts: this.config.allowedHosts, timeoutMs: REGISTRATION_LOOKUP_MS });
      if (target.url.href.length > 2048) {
        throw DomainError.validation([{ field: 'url', code: 'too_long', message: 'url must be at most 2048 characters' }]);
      }
      return target.url.href;
    } catch (error) {
      if (error instanceof TargetRefused) throw new DomainError('webhook_url_not_allowed', error.message);
      throw error;
    }
  }
}
