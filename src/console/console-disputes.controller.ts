import { Body, Controller, Get, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { OperatorReveals } from '../admin/operator-reveals.service';
import { RevealHandleDto } from '../admin/admin-reveals.controller';
import { createValidationPipe, DomainError } from '../common/errors';
import { formatAmount } from '../common/money';
import { MAX_PAGE_SIZE } from '../common/http/pagination';
import { UuidParam } from '../common/http/uuid-param';
import { DisputesService } from '../disputes/disputes.service';
import { ResolveDisputeDto } from '../disputes/dto/disputes.dto';
import { ConsoleCsrf } from './console-csrf';
import { ConsoleOperator, ConsolePages, SignedIn, type SignedInOperator } from './console-session';
import { formField, redirect, sendPage } from './console-http';
import { DisputeFiles } from './dispute-file.service';
import { confirmResolutionPage, confirmTakeoverPage, type Resolution } from './dispute-forms';
import { disputePage } from './dispute-page';
import { queuePage, queueTabOf } from './queue-page';

const DONE: Record<string, string> = {
  assigned: 'You hold this dispute now.',
  resolved: 'Resolved. The trade settles in the background: its state and timeline here follow the providers.',
};

/**
 * The dispute queue and each dispute's page, with the operators' actions on it: the same DisputesService and
 * OperatorReveals calls as /v1/admin, their input checked by the same DTOs and validation pipe.
 */
@ConsolePages()
@SignedIn()
@Controller('admin/disputes')
export class ConsoleDisputesController {
  private readonly validation = createValidationPipe();

  constructor(
    private readonly disputes: DisputesService,
    private readonly files: DisputeFiles,
    private readonly reveals: OperatorReveals,
    private readonly csrf: ConsoleCsrf,
  ) {}

  @Get()
  async queue(
    @ConsoleOperator() signedIn: SignedInOperator,
    @Query('status') status: unknown,
    @Query('cursor') cursor: unknown,
    @Query('limit') limitText: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const tab = queueTabOf(status);
    const after = typeof cursor === 'string' && cursor.length > 0 ? cursor.slice(0, 512) : undefined;
    const asked = typeof limitText === 'string' && /^\d{1,3}$/.test(limitText) ? Number(limitText) : undefined;
    const limit = asked !== undefined && asked >= 1 && asked <= MAX_PAGE_SIZE ? asked : undefined;
    const page =
      tab === 'mine'
        ? await this.disputes.queue({ status: 'assigned', cursor: after, limit }, signedIn.operator.id)
        : await this.disputes.queue({ status: tab, cursor: after, limit });
    sendPage(reply, queuePage(signedIn.viewer, { tab, limit, first: after === undefined }, page));
  }

  @Get(':id')
  async show(
    @ConsoleOperator() signedIn: SignedInOperator,
    @UuidParam() id: string,
    @Query('chat') chat: unknown,
    @Query('done') done: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const file = await this.files.read(signedIn.operator, id, { chat: chat === '1' });
    const text = typeof done === 'string' && Object.hasOwn(DONE, done) ? DONE[done] : undefined;
    sendPage(reply, disputePage(signedIn.viewer, file, text ? { kind: 'ok', text } : undefined));
  }

  /** Takes the dispute; one another operator holds is taken over only after a confirmation (force=yes). */
  @Post(':id/assign')
  async assign(
    @ConsoleOperator() signedIn: SignedInOperator,
    @UuidParam() id: string,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const force = formField(body, 'force') === 'yes';
    try {
      await this.disputes.assign(signedIn.operator, id, { force });
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'dispute_assigned')) throw error;
      const held = await this.disputes.get(signedIn.operator, id);
      return sendPage(reply, confirmTakeoverPage(signedIn.viewer, id, held.assignedTo));
    }
    redirect(reply, `/admin/disputes/${id}?done=assigned`);
  }

  /** Release, refund or split: checked as the API checks it, shown for confirmation, then decided by the service. */
  @Post(':id/resolve')
  async resolve(
    @ConsoleOperator() signedIn: SignedInOperator,
    @UuidParam() id: string,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const outcome = formField(body, 'outcome');
    const input: Record<string, string> = { outcome, note: formField(body, 'note') };
    if (outcome === 'split') {
      input.travelerUsd = formField(body, 'travelerUsd').trim();
      input.counterpartyUsd = formField(body, 'counterpartyUsd').trim();
    }
    const decision = (await this.validation.transform(input, { type: 'body', metatype: ResolveDisputeDto })) as ResolveDisputeDto;
    // The service's own checks (amounts to the cent, the sum, who holds the dispute) before anything is shown.
    const checked = await this.disputes.checkDecision(signedIn.operator, id, decision);
    const amounts =
      checked.outcome === 'split'
        ? { travelerUsd: formatAmount(checked.travelerUsd, 'USD'), counterpartyUsd: formatAmount(checked.counterpartyUsd, 'USD') }
        : {};
    const bound = [checked.outcome, amounts.travelerUsd ?? '', amounts.counterpartyUsd ?? '', decision.note];
    if (formField(body, 'confirmed') !== 'yes') {
      const file = await this.files.read(signedIn.operator, id, { chat: false });
      const binding = this.csrf.forDecision(signedIn.sessionToken, id, bound);
      const shown: Resolution = { outcome: checked.outcome, note: decision.note, ...amounts, binding };
      return sendPage(reply, confirmResolutionPage(signedIn.viewer, file, shown));
    }
    // What is committed is what the confirmation page showed, to the cent and the word.
    if (!this.csrf.checkDecision(signedIn.sessionToken, id, bound, formField(body, 'binding'))) {
      throw new DomainError('forbidden', 'This is not the decision that was confirmed: start again from the dispute page');
    }
    await this.disputes.resolve(signedIn.operator, id, decision);
    redirect(reply, `/admin/disputes/${id}?done=resolved`);
  }

  /** The audited reveal of one of the trade's payment handles: shown once, on the page this post answers. */
  @Post(':id/reveal')
  async reveal(
    @ConsoleOperator() signedIn: SignedInOperator,
    @UuidParam() id: string,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const input = { field: formField(body, 'field'), reason: formField(body, 'reason') };
    const asked = (await this.validation.transform(input, { type: 'body', metatype: RevealHandleDto })) as RevealHandleDto;
    const dispute = await this.disputes.get(signedIn.operator, id);
    const revealed = await this.reveals.reveal(signedIn.operator, dispute.tradeId, asked.field, asked.reason);
    const file = await this.files.read(signedIn.operator, id, { chat: false });
    sendPage(reply, disputePage(signedIn.viewer, file, { kind: 'reveal', field: revealed.field, value: revealed.value }));
  }
}
