import { Controller, Get, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ReconciliationService } from '../../reconciliation/reconciliation.service';
import { LedgerCheckService } from '../../trades/ledger-check.service';
import { redirect, sendPage } from '../console-http';
import { ConsoleOperator, ConsolePages, SignedIn, type SignedInOperator } from '../console-session';
import { LEDGER_DONE, ledgerPage } from './ledger-page';

/** The books: the ledger check and the reconciliation report, as `GET /v1/admin/ledger/check` and `/reconciliation` answer. */
@ConsolePages()
@SignedIn()
@Controller('admin/ledger')
export class ConsoleLedgerController {
  constructor(
    private readonly checker: LedgerCheckService,
    private readonly reconciliation: ReconciliationService,
  ) {}

  @Get()
  async ledger(@ConsoleOperator() signedIn: SignedInOperator, @Query('done') done: unknown, @Res() reply: FastifyReply): Promise<void> {
    const [check, report] = await Promise.all([this.checker.check(), this.reconciliation.latest()]);
    sendPage(reply, ledgerPage(signedIn.viewer, check, report, { done: typeof done === 'string' ? LEDGER_DONE[done] : undefined }));
  }

  /** Queues a run now (audited), as `POST /v1/admin/reconciliation/run`: it moves no money, so there is no second step. */
  @Post('reconciliation')
  async run(@ConsoleOperator() signedIn: SignedInOperator, @Res() reply: FastifyReply): Promise<void> {
    await this.reconciliation.requestRun(signedIn.operator);
    redirect(reply, '/admin/ledger?done=reconciliation-queued');
  }
}
