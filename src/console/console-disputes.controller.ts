import { Controller, Get, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DisputesService } from '../disputes/disputes.service';
import { ConsoleOperator, ConsolePages, SignedIn, type SignedInOperator } from './console-session';
import { sendPage } from './console-http';
import { queuePage, queueTabOf } from './queue-page';

/** The dispute queue and each dispute's page, with the operators' actions on it. */
@ConsolePages()
@SignedIn()
@Controller('admin/disputes')
export class ConsoleDisputesController {
  constructor(private readonly disputes: DisputesService) {}

  @Get()
  async queue(
    @ConsoleOperator() signedIn: SignedInOperator,
    @Query('status') status: unknown,
    @Query('cursor') cursor: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const tab = queueTabOf(status);
    const after = typeof cursor === 'string' && cursor.length > 0 ? cursor.slice(0, 512) : undefined;
    const page =
      tab === 'mine'
        ? await this.disputes.queue({ status: 'assigned', cursor: after }, signedIn.operator.id)
        : await this.disputes.queue({ status: tab, cursor: after });
    sendPage(reply, queuePage(signedIn.viewer, tab, page, after === undefined));
  }
}
