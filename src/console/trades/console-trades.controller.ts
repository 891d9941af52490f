import { Body, Controller, Get, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AdminTradesService } from '../../admin/admin-trades.service';
import { DomainError, ProblemBody } from '../../common/errors';
import { MAX_PAGE_SIZE } from '../../common/http/pagination';
import { UuidParam } from '../../common/http/uuid-param';
import { TradeQueriesService } from '../../trades/trade-queries.service';
import { TRADE_STATES, type TradeState } from '../../trades/trade.state-machine';
import { confirmPage, isConfirmed, refusalOf } from '../console-forms';
import { redirect, sendPage } from '../console-http';
import { ConsoleOperator, ConsolePages, SignedIn, type SignedInOperator } from '../console-session';
import { html } from '../html';
import { TRADE_DONE, TradesFilter, tradePage, tradesListPage } from './trades-pages';

/** The whole timeline on the trade's page, up to the API's largest page. */
const TIMELINE_LIMIT = 100;

/** Trades for operators: the list by state and failing settlement, each trade's page, and the settlement retry. */
@ConsolePages()
@SignedIn()
@Controller('admin/trades')
export class ConsoleTradesController {
  constructor(
    private readonly adminTrades: AdminTradesService,
    private readonly trades: TradeQueriesService,
  ) {}

  @Get()
  async list(
    @ConsoleOperator() signedIn: SignedInOperator,
    @Query('state') state: unknown,
    @Query('failing') failing: unknown,
    @Query('cursor') cursor: unknown,
    @Query('limit') limit: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const filter = filterOf(state, failing, limit);
    const after = typeof cursor === 'string' && cursor.length > 0 ? cursor.slice(0, 512) : undefined;
    const page = await this.adminTrades.list({ ...filter, cursor: after });
    sendPage(reply, tradesListPage(signedIn.viewer, filter, page, after === undefined));
  }

  @Get(':id')
  async trade(
    @ConsoleOperator() signedIn: SignedInOperator,
    @UuidParam() id: string,
    @Query('done') done: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.show(reply, signedIn, id, { done: typeof done === 'string' ? TRADE_DONE[done] : undefined });
  }

  /** First post: what the retry does, asked again. Confirmed: the admin API's retry, then back to the trade. */
  @Post(':id/retry-settlement')
  async retry(
    @ConsoleOperator() signedIn: SignedInOperator,
    @UuidParam() id: string,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (!isConfirmed(body)) {
      const trade = await this.trades.get(signedIn.operator, id);
      return sendPage(
        reply,
        confirmPage({
          viewer: signedIn.viewer,
          section: 'trades',
          title: 'Retry settlement?',
          summary: html`<p>
            Trade <span class="mono">${trade.id}</span> (${trade.state}, ${trade.amountUsd} USD): its settlement job runs again now. Each
            provider step keeps its request id, so nothing is paid twice; for an ended trade whose payout or refund came back, the next
            attempt starts. The retry is audited under your name.
          </p>`,
          action: `/admin/trades/${id}/retry-settlement`,
          button: 'Retry settlement',
          back: `/admin/trades/${id}`,
        }),
      );
    }
    try {
      await this.adminTrades.retrySettlement(signedIn.operator, id);
    } catch (error) {
      return this.show(reply, signedIn, id, { refusal: refusalOf(error) });
    }
    redirect(reply, `/admin/trades/${id}?done=retried`);
  }

  private async show(
    reply: FastifyReply,
    signedIn: SignedInOperator,
    id: string,
    notice: { refusal?: ProblemBody; done?: string },
  ): Promise<void> {
    const trade = await this.trades.get(signedIn.operator, id);
    const events = await this.trades.events(signedIn.operator, id, { limit: TIMELINE_LIMIT });
    sendPage(reply, tradePage(signedIn.viewer, trade, events.data, notice), notice.refusal?.status ?? 200);
  }
}

/** The list's filter from its query: a state the service knows (else a plain 400), `failing=true`, a page size. */
function filterOf(state: unknown, failing: unknown, limit: unknown): TradesFilter {
  if (state !== undefined && state !== '' && !TRADE_STATES.includes(state as TradeState)) {
    throw DomainError.validation([{ field: 'state', code: 'invalid_enum', message: `state must be one of: ${TRADE_STATES.join(', ')}` }]);
  }
  return {
    state: state ? (state as TradeState) : undefined,
    settlementFailing: failing === 'true' ? true : undefined,
    limit:
      typeof limit === 'string' && /^\d{1,3}$/.test(limit) && Number(limit) >= 1 && Number(limit) <= MAX_PAGE_SIZE
        ? Number(limit)
        : undefined,
  };
}
