import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../../common/auth/decorators';
import { FaultsService } from '../faults.service';
import { registerMockErrorFormat } from '../mock-error-names';
import { SandboxUrls } from '../sandbox-urls';
import { PaypalMockError } from './paypal-mock.errors';
import { approvedPage, checkoutPage, refusedPage, webUrl } from './paypal-mock.pages';
import { PaypalMockErrorFilter } from './paypal-mock.filter';
import { PaypalMockOAuth } from './paypal-mock-oauth.service';
import { PaypalMockService } from './paypal-mock.service';
import { MockResponse, PaypalMockReplays, ReplayKey } from './paypal-mock.replays';
import { PaypalMockPayouts } from './paypal-mock.payouts';
import { PaypalMockRepository } from './paypal-mock.repository';
import { PAYPAL_MOCK_CERT_ID, PaypalMockIdentity } from './paypal-mock.identity';
import { signedString, verifyTransmission } from '../../payments/providers/paypal/paypal-webhook-signature';
import { EntityManager } from 'typeorm';
import { Transactions } from '../../database/transactions';

export const PAYPAL_MOCK_PREFIX = '/sandbox/paypal';

// Errors raised before a handler runs also answer PayPal's way.
registerMockErrorFormat(
  `${PAYPAL_MOCK_PREFIX}/v`,
  {
    notFound: 'RESOURCE_NOT_FOUND',
    unauthenticated: 'AUTHENTICATION_FAILURE',
    serverError: 'INTERNAL_SERVER_ERROR',
    invalid: 'INVALID_REQUEST',
  },
  (name, problem) => ({ name, message: problem.detail, debug_id: 'mock', details: [{ issue: problem.code.toUpperCase() }] }),
);

type PaypalRequest = FastifyRequest;

const HTML = 'text/html; charset=utf-8';

/**
 * PayPal's REST API as its clients call it, under /sandbox/paypal (sandbox mode only). Everything after the
 * prefix is PayPal's own path. Takes PayPal's credentials (client id and secret, then Bearer tokens), not ours.
 */
@ApiTags('sandbox')
@Public()
@UseFilters(PaypalMockErrorFilter)
@Controller('sandbox/paypal')
export class PaypalMockController {
  constructor(
    private readonly paypal: PaypalMockService,
    private readonly oauth: PaypalMockOAuth,
    private readonly faults: FaultsService,
    private readonly identity: PaypalMockIdentity,
    private readonly payouts: PaypalMockPayouts,
    private readonly replays: PaypalMockReplays,
    private readonly transactions: Transactions,
    private readonly repository: PaypalMockRepository,
    private readonly urls: SandboxUrls,
  ) {}

  /**
   * Faults first (down, errors, latency), then the work, once per PayPal-Request-Id on a POST (a repeat answers
   * what the first stored, even while the first still runs); "fail after success" fails once it is done, so its
   * retry gets the stored success.
   */
  private run(
    request: PaypalRequest,
    reply: FastifyReply,
    work: (manager: EntityManager) => Promise<MockResponse>,
    options: { authenticate?: boolean; replay?: boolean } = { authenticate: true, replay: true },
  ): Promise<void> {
    return this.answer(request, reply, (key) => (key ? this.replays.once(key, work) : work(this.transactions.manager)), options);
  }

  /** `run` for a change made in one statement that keeps its PayPal-Request-Id's answer itself (`PaypalMockReplays.inStatement`). */
  private runInStatement(
    request: PaypalRequest,
    reply: FastifyReply,
    work: (key?: ReplayKey) => Promise<MockResponse | undefined>,
  ): Promise<void> {
    return this.answer(request, reply, async (key) => {
      if (key) return this.replays.inStatement(key, work);
      const result = await work();
      if (!result) throw new Error('A call without a PayPal-Request-Id has no answer to find');
      return result;
    });
  }

  private async answer(
    request: PaypalRequest,
    reply: FastifyReply,
    respond: (key: ReplayKey | undefined) => Promise<MockResponse>,
    options: { authenticate?: boolean; replay?: boolean } = { authenticate: true, replay: true },
  ): Promise<void> {
    const path = request.url.split('?')[0];
    const decision = await this.faults.next('paypal', path.slice(PAYPAL_MOCK_PREFIX.length));
    if (decision.kind === 'down') throw new PaypalMockError(503, 'SERVICE_UNAVAILABLE', 'Service Unavailable.');
    if (decision.kind === 'error') throw new PaypalMockError(500, 'INTERNAL_SERVER_ERROR', 'An internal server error has occurred.');
    if (decision.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, decision.latencyMs));
    if (options.authenticate !== false) await this.oauth.authenticate(request.headers.authorization);
    const header = request.headers['paypal-request-id'];
    const requestId = options.replay !== false && request.method === 'POST' && typeof header === 'string' && header ? header : undefined;
    const result = await respond(requestId ? { requestId, endpoint: `${request.method} ${path}` } : undefined);
    if (decision.failAfter) throw new PaypalMockError(500, 'INTERNAL_SERVER_ERROR', 'An internal server error has occurred.');
    if (result.body === undefined || result.body === null) {
      void reply.status(result.status).send();
      return;
    }
    void reply.status(result.status).header('content-type', 'application/json').send(result.body);
  }

  /**
   * Links point at the mock's configured base (`SANDBOX_BASE_URL`), as PayPal's point at PayPal's; never at the
   * request's `Host`, which the caller chooses (events, and the certificate they name, carry these links).
   */
  private base(): string {
    return this.urls.mock('paypal');
  }

  /** A read: 200 with what `find` answers. */
  private show(request: PaypalRequest, reply: FastifyReply, find: () => Promise<unknown>): Promise<void> {
    return this.run(request, reply, async () => ({ status: 200, body: await find() }));
  }

  /** A change (once per PayPal-Request-Id): 201 with what `make` answers. */
  private created(request: PaypalRequest, reply: FastifyReply, make: (manager: EntityManager) => Promise<unknown>): Promise<void> {
    return this.run(request, reply, async (manager) => ({ status: 201, body: await make(manager) }));
  }

  /** Whether the call asked for the whole resource back (`Prefer: return=representation`). */
  private static representation(request: PaypalRequest): boolean {
    return (request.headers.prefer ?? '').includes('return=representation');
  }

  @Post('v1/oauth2/token')
  @ApiOperation({ summary: 'PayPal: OAuth2 client-credentials token' })
  async token(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Body() body: Record<string, unknown> | undefined): Promise<void> {
    await this.run(
      request,
      reply,
      async () => ({ status: 200, body: await this.oauth.issueToken(request.headers.authorization, body?.grant_type) }),
      {
        authenticate: false,
        replay: false,
      },
    );
  }

  @Post('v2/checkout/orders')
  @ApiOperation({ summary: 'PayPal: create an order (intent AUTHORIZE)' })
  async createOrder(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Body() body: unknown): Promise<void> {
    await this.runInStatement(request, reply, (key) =>
      this.paypal.createOrder(
        body,
        (order) => {
          const view = this.paypal.orderView(this.base(), order);
          return {
            status: 201,
            body: PaypalMockController.representation(request) ? view : { id: view.id, status: view.status, links: view.links },
          };
        },
        key,
      ),
    );
  }

  @Get('v2/checkout/orders/:id')
  @ApiOperation({ summary: 'PayPal: show an order' })
  async getOrder(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    await this.run(request, reply, async () => {
      const { order, authorization, settled } = await this.paypal.findOrderSettled(id);
      return { status: 200, body: this.paypal.orderView(this.base(), order, authorization, settled) };
    });
  }

  @Post('v2/checkout/orders/:id/authorize')
  @ApiOperation({ summary: 'PayPal: authorize an approved order' })
  async authorizeOrder(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    await this.runInStatement(request, reply, (key) =>
      this.paypal.authorizeOrder(
        this.base(),
        id,
        (order, authorization) => {
          const view = this.paypal.orderView(this.base(), order, authorization);
          return {
            status: 201,
            body: PaypalMockController.representation(request)
              ? view
              : { id: view.id, status: view.status, purchase_units: view.purchase_units, links: view.links },
          };
        },
        key,
      ),
    );
  }

  @Get('v2/payments/authorizations/:id')
  @ApiOperation({ summary: 'PayPal: show an authorization' })
  async getAuthorization(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    await this.show(request, reply, async () => this.paypal.authorizationView(this.base(), await this.paypal.findAuthorization(id)));
  }

  @Post('v2/payments/authorizations/:id/capture')
  @ApiOperation({ summary: 'PayPal: capture an authorization, in full or in part' })
  async capture(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Body() body: unknown): Promise<void> {
    await this.runInStatement(request, reply, (key) =>
      this.paypal.capture(this.base(), id, body, (capture) => ({ status: 201, body: this.paypal.captureView(this.base(), capture) }), key),
    );
  }

  @Post('v2/payments/authorizations/:id/void')
  @ApiOperation({ summary: 'PayPal: void an authorization (204, or 200 with Prefer: return=representation)' })
  async void(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    await this.run(request, reply, async (manager) => {
      const authorization = await this.paypal.void(this.base(), id, manager);
      return PaypalMockController.representation(request)
        ? { status: 200, body: this.paypal.authorizationView(this.base(), authorization) }
        : { status: 204 };
    });
  }

  @Get('v2/payments/captures/:id')
  @ApiOperation({ summary: 'PayPal: show a capture' })
  async getCapture(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    await this.show(request, reply, async () => this.paypal.captureView(this.base(), await this.paypal.findCapture(id)));
  }

  @Post('v2/payments/captures/:id/refund')
  @ApiOperation({ summary: 'PayPal: refund a capture' })
  async refund(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Param('id') id: string, @Body() body: unknown): Promise<void> {
    await this.created(request, reply, (manager) => this.paypal.refund(this.base(), id, body, manager));
  }

  // ---- Payouts v1 ----

  @Post('v1/payments/payouts')
  @ApiOperation({ summary: 'PayPal: create a payout batch (deduplicated by sender_batch_id)' })
  async createPayout(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Body() body: unknown): Promise<void> {
    await this.runInStatement(request, reply, (key) =>
      this.payouts.create(this.base(), body, (made) => ({ status: 201, body: made }), key),
    );
  }

  @Get('v1/payments/payouts/:batchId')
  @ApiOperation({ summary: 'PayPal: show a payout batch and its items' })
  async getPayout(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Param('batchId') batchId: string): Promise<void> {
    await this.show(request, reply, () => this.payouts.getBatch(this.base(), batchId));
  }

  @Get('v1/payments/payouts-item/:itemId')
  @ApiOperation({ summary: 'PayPal: show a payout item' })
  async getPayoutItem(@Req() request: PaypalRequest, @Res() reply: FastifyReply, @Param('itemId') itemId: string): Promise<void> {
    await this.show(request, reply, () => this.payouts.getItem(this.base(), itemId));
  }

  // ---- Webhook signatures ----

  @Get('v1/notifications/certs/:certId')
  @ApiOperation({ summary: 'PayPal: the certificate webhook signatures verify against (PAYPAL-CERT-URL)' })
  async certificate(@Param('certId') certId: string, @Res() reply: FastifyReply): Promise<void> {
    if (certId !== PAYPAL_MOCK_CERT_ID) throw PaypalMockError.notFound(certId);
    const identity = await this.identity.get();
    void reply.status(200).header('content-type', 'application/x-pem-file').send(identity.certificatePem);
  }

  @Post('v1/notifications/verify-webhook-signature')
  @ApiOperation({ summary: 'PayPal: verify a webhook signature (postback)' })
  async verifySignature(
    @Req() request: PaypalRequest,
    @Res() reply: FastifyReply,
    @Body() body: Record<string, unknown> | undefined,
  ): Promise<void> {
    await this.run(
      request,
      reply,
      async () => {
        const transmissionId = String(body?.transmission_id ?? '');
        // The bytes that were sent, not a re-serialization of the event: the crc32 depends on them.
        const raw = await this.repository.transmissionBody(transmissionId);
        const identity = await this.identity.get();
        const ok =
          raw !== undefined &&
          body?.auth_algo === 'SHA256withRSA' &&
          typeof body?.transmission_sig === 'string' &&
          verifyTransmission(
            identity.publicKey,
            signedString(transmissionId, String(body.transmission_time), String(body.webhook_id), raw),
            body.transmission_sig,
          );
        return { status: 200, body: { verification_status: ok ? 'SUCCESS' : 'FAILURE' } };
      },
      { authenticate: true, replay: false },
    );
  }

  // ---- What the buyer does at PayPal (our sandbox actions, not PayPal's API) ----

  @Get('checkoutnow')
  @ApiOperation({ summary: 'Sandbox: the page an approveUrl opens, with the order and an Approve button' })
  async checkout(@Query('token') token: string, @Res() reply: FastifyReply): Promise<void> {
    const order = await this.paypal.findOrder(String(token ?? '')).catch((error: unknown) => this.refused(reply, error));
    if (!order) return;
    const returnTo = webUrl(order.return_url);
    // Browsers hold a form's redirect to the policy of the page it was on: the merchant's site joins 'self'.
    const policy = reply.raw.getHeader('content-security-policy');
    if (returnTo && typeof policy === 'string')
      void reply.header('content-security-policy', policy.replace(/form-action 'self'/, `form-action 'self' ${returnTo.origin}`));
    const action = `${PAYPAL_MOCK_PREFIX}/orders/${encodeURIComponent(order.id)}/approve`;
    void reply.status(200).header('content-type', HTML).send(checkoutPage(order, action));
  }

  @Post('orders/:orderId/approve')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sandbox: the traveler approves the PayPal payment (body: optional payerEmail)',
    description: "JSON gets JSON; the checkout page's form goes back to the order's return URL, or to a page saying it is approved.",
  })
  @ApiBody({
    required: false,
    schema: { type: 'object', properties: { payerEmail: { type: 'string', format: 'email', example: 'traveler@paypal.example' } } },
  })
  @ApiOkResponse({
    description: 'the order, now approved',
    schema: {
      type: 'object',
      required: ['id', 'status'],
      properties: { id: { type: 'string' }, status: { type: 'string', example: 'APPROVED' } },
    },
  })
  async approve(
    @Param('orderId') orderId: string,
    @Body() body: Record<string, unknown> | undefined,
    @Req() request: PaypalRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const fromForm = (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    // The form sends an empty field when the payer typed nothing.
    const payerEmail = typeof body?.payerEmail === 'string' && body.payerEmail.trim() !== '' ? body.payerEmail.trim() : undefined;
    if (!fromForm) {
      const order = await this.paypal.approveOrder(this.base(), orderId, payerEmail);
      void reply.status(200).header('content-type', 'application/json').send({ id: order.id, status: order.status });
      return;
    }
    const order = await this.paypal.approveOrder(this.base(), orderId, payerEmail).catch((error: unknown) => this.refused(reply, error));
    if (!order) return;
    // As PayPal does: back to the merchant's return URL with the order's token and the payer's id.
    const target = webUrl(order.return_url);
    if (target) {
      target.searchParams.set('token', order.id);
      target.searchParams.set('PayerID', String((order.payer as { payer_id?: string })?.payer_id ?? ''));
      void reply.status(303).header('location', target.toString()).send();
      return;
    }
    void reply.status(200).header('content-type', HTML).send(approvedPage(order));
  }

  /** A refusal the buyer's browser shows as a page; anything but PayPal's own refusals goes on to the filters. */
  private refused(reply: FastifyReply, error: unknown): undefined {
    if (!(error instanceof PaypalMockError)) throw error;
    const body = error.body() as { details?: { description?: string }[] };
    const title = error.status === 404 ? 'Order not found' : 'This order cannot be approved';
    void reply
      .status(error.status)
      .header('content-type', HTML)
      .send(refusedPage(title, body.details?.[0]?.description ?? error.message));
    return undefined;
  }

  @Delete('replays/:requestId')
  @HttpCode(200)
  @ApiOperation({ summary: "Sandbox: PayPal's replay of a PayPal-Request-Id expires now (a repeat then runs as a new call)" })
  async forgetReplay(@Param('requestId') requestId: string): Promise<{ requestId: string; forgotten: number }> {
    return { requestId, forgotten: await this.replays.forget(requestId) };
  }
}
