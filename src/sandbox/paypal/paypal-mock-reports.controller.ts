import { Controller, Get, Param, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../../common/auth/decorators';
import { FaultsService } from '../faults.service';
import { SandboxUrls } from '../sandbox-urls';
import { PAYPAL_MOCK_PREFIX } from './paypal-mock.controller';
import { PaypalMockError } from './paypal-mock.errors';
import { PaypalMockErrorFilter } from './paypal-mock.filter';
import { PaypalMockReports } from './paypal-mock.reports';
import { PaypalMockOAuth } from './paypal-mock-oauth.service';
import { PaypalMockService } from './paypal-mock.service';

/** PayPal's read-only reports under /sandbox/paypal (sandbox mode only): faults and PayPal's Bearer tokens apply as to every mock call. */
@ApiTags('sandbox')
@Public()
@UseFilters(PaypalMockErrorFilter)
@Controller('sandbox/paypal')
export class PaypalMockReportsController {
  constructor(
    private readonly paypal: PaypalMockService,
    private readonly oauth: PaypalMockOAuth,
    private readonly reports: PaypalMockReports,
    private readonly faults: FaultsService,
    private readonly urls: SandboxUrls,
  ) {}

  @Get('v2/payments/refunds/:id')
  @ApiOperation({ summary: 'PayPal: show a refund' })
  async refund(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Param('id') id: string): Promise<void> {
    await this.answer(request, reply, (base) => this.reports.refund(base, id));
  }

  @Get('v1/reporting/transactions')
  @ApiOperation({ summary: 'PayPal: Transaction Search (the mock lists payouts, T0001)' })
  async transactions(
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @Query() query: Record<string, string | undefined>,
  ): Promise<void> {
    await this.answer(request, reply, (base) => this.reports.searchTransactions(base, query));
  }

  private async answer(request: FastifyRequest, reply: FastifyReply, work: (base: string) => Promise<unknown>): Promise<void> {
    const path = request.url.split('?')[0];
    const decision = await this.faults.next('paypal', path.slice(PAYPAL_MOCK_PREFIX.length));
    if (decision.kind === 'down') throw new PaypalMockError(503, 'SERVICE_UNAVAILABLE', 'Service Unavailable.');
    if (decision.kind === 'error') throw new PaypalMockError(500, 'INTERNAL_SERVER_ERROR', 'An internal server error has occurred.');
    if (decision.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, decision.latencyMs));
    await this.oauth.authenticate(request.headers.authorization);
    const body = await work(this.urls.mock('paypal'));
    if (decision.failAfter) throw new PaypalMockError(500, 'INTERNAL_SERVER_ERROR', 'An internal server error has occurred.');
    void reply.status(200).header('content-type', 'application/json').send(body);
  }
}
