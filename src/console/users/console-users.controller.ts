import { Body, Controller, Get, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DomainError, ProblemBody } from '../../common/errors';
import { UuidParam } from '../../common/http/uuid-param';
import { AdminUsersService } from '../../users/admin-users.service';
import { confirmPage, isConfirmed, refusalOf } from '../console-forms';
import { formField, redirect, sendPage } from '../console-http';
import { ConsoleOperator, ConsolePages, SignedIn, type SignedInOperator } from '../console-session';
import { html, SafeHtml } from '../html';
import { REASON_MAX, TIERS, USER_DONE, userPage, usersLookupPage } from './users-pages';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Users for operators: the lookup, each user's page, suspension (with a reason) and tier, via the admin users service. */
@ConsolePages()
@SignedIn()
@Controller('admin/users')
export class ConsoleUsersController {
  constructor(private readonly users: AdminUsersService) {}

  /** Without a query, the lookup form; with an id or an email, that user's page (303), or the form saying none was found. */
  @Get()
  async lookup(@ConsoleOperator() signedIn: SignedInOperator, @Query('q') q: unknown, @Res() reply: FastifyReply): Promise<void> {
    const query = typeof q === 'string' ? q.trim().slice(0, 320) : '';
    if (query === '') return sendPage(reply, usersLookupPage(signedIn.viewer, ''));
    try {
      const id = UUID.test(query) ? (await this.users.view(query)).id : await this.users.idByEmail(query);
      redirect(reply, `/admin/users/${id}`);
    } catch (error) {
      const refusal = refusalOf(error);
      sendPage(reply, usersLookupPage(signedIn.viewer, query, refusal), refusal.status);
    }
  }

  @Get(':id')
  async user(
    @ConsoleOperator() signedIn: SignedInOperator,
    @UuidParam() id: string,
    @Query('done') done: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.show(reply, signedIn, id, { done: typeof done === 'string' ? USER_DONE[done] : undefined });
  }

  @Post(':id/suspend')
  async suspend(
    @ConsoleOperator() signedIn: SignedInOperator,
    @UuidParam() id: string,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.act(reply, signedIn, id, body, {
      path: 'suspend',
      title: 'Suspend this user?',
      what: () => html`from their next request they may only act on their live trades (an operator may not act at all).`,
      button: 'Suspend',
      danger: true,
      fields: () => ({ reason: reasonOf(body) }),
      run: () => this.users.suspend(signedIn.operator, id, reasonOf(body)),
      done: 'suspended',
    });
  }

  @Post(':id/unsuspend')
  async unsuspend(
    @ConsoleOperator() signedIn: SignedInOperator,
    @UuidParam() id: string,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.act(reply, signedIn, id, body, {
      path: 'unsuspend',
      title: 'Lift the suspension?',
      what: () => html`they may sign in and trade again.`,
      button: 'Lift suspension',
      fields: () => ({ reason: reasonOf(body) }),
      run: () => this.users.unsuspend(signedIn.operator, id, reasonOf(body)),
      done: 'unsuspended',
    });
  }

  @Post(':id/tier')
  async tier(
    @ConsoleOperator() signedIn: SignedInOperator,
    @UuidParam() id: string,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.act(reply, signedIn, id, body, {
      path: 'tier',
      title: 'Change the tier?',
      what: (fields) => html`their daily limit and open trades follow tier ${fields.tier} from their next trade.`,
      button: 'Change tier',
      fields: () => ({ tier: String(tierOf(body)) }),
      run: () => this.users.setTier(signedIn.operator, id, tierOf(body)),
      done: 'tier',
    });
  }

  /**
   * One action in two posts: the first checks the fields and asks to confirm (nothing done), the confirmed one runs
   * the service and goes back to the user's page; a refusal shows there, plainly, with the service's status.
   */
  private async act(
    reply: FastifyReply,
    signedIn: SignedInOperator,
    id: string,
    body: unknown,
    action: {
      path: 'suspend' | 'unsuspend' | 'tier';
      title: string;
      what: (fields: Record<string, string>) => SafeHtml;
      button: string;
      danger?: boolean;
      fields: () => Record<string, string>;
      run: () => Promise<unknown>;
      done: keyof typeof USER_DONE;
    },
  ): Promise<void> {
    try {
      const fields = action.fields();
      if (!isConfirmed(body)) {
        const user = await this.users.view(id);
        return sendPage(
          reply,
          confirmPage({
            viewer: signedIn.viewer,
            section: 'users',
            title: action.title,
            summary: html`<p>
                ${user.displayName} (${user.email}, ${user.role}): ${action.what(fields)} The change is audited under your name.
              </p>
              ${fields.reason ? html`<p>Reason: <span class="statement">${fields.reason}</span></p>` : ''}`,
            action: `/admin/users/${id}/${action.path}`,
            fields,
            button: action.button,
            danger: action.danger,
            back: `/admin/users/${id}`,
          }),
        );
      }
      await action.run();
    } catch (error) {
      return this.show(reply, signedIn, id, { refusal: refusalOf(error) });
    }
    redirect(reply, `/admin/users/${id}?done=${action.done}`);
  }

  private async show(
    reply: FastifyReply,
    signedIn: SignedInOperator,
    id: string,
    notice: { refusal?: ProblemBody; done?: string },
  ): Promise<void> {
    const user = await this.users.view(id);
    sendPage(reply, userPage(signedIn.viewer, user, notice), notice.refusal?.status ?? 200);
  }
}

/** A suspension's reason: required, as long as the audit log keeps. */
function reasonOf(body: unknown): string {
  const reason = formField(body, 'reason').trim();
  if (reason.length === 0 || reason.length > REASON_MAX) {
    throw DomainError.validation([
      { field: 'reason', code: 'invalid_length', message: `a reason of 1 to ${REASON_MAX} characters is required` },
    ]);
  }
  return reason;
}

function tierOf(body: unknown): number {
  const tier = Number(formField(body, 'tier'));
  if (!TIERS.includes(tier as (typeof TIERS)[number]) || formField(body, 'tier').trim() === '') {
    throw DomainError.validation([{ field: 'tier', code: 'invalid_enum', message: 'tier must be 0, 1 or 2' }]);
  }
  return tier;
}
