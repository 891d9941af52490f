import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { safeErrorForLog, toProblem } from '../common/errors';
import { ConsoleRedirect, redirect, sendPage } from './console-http';
import type { ConsoleRequest } from './signed-in';
import { html } from './html';
import { layout } from './layout';
import { problemNotice } from './problem-view';

const DISPUTE_PATH = /^\/admin\/disputes\/([0-9a-f-]{36})(?:[/?]|$)/i;

/**
 * The console's errors as pages, not problem+json: the same problem (toProblem) a client of the API would get,
 * its title, detail and field errors shown plainly, with the way back.
 */
@Catch()
export class ConsoleErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Console');

  catch(exception: unknown, host: ArgumentsHost): void {
    const request = host.switchToHttp().getRequest<ConsoleRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (reply.sent) return;
    if (exception instanceof ConsoleRedirect) return redirect(reply, exception.location);
    const { status, body, unexpected } = toProblem(exception);
    if (unexpected) {
      this.logger.error({ error: safeErrorForLog(exception), requestId: request.id, route: request.routeOptions?.url }, 'Unhandled error');
    }
    const retryAfter = (exception as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
    const dispute = DISPUTE_PATH.exec(request.url)?.[1];
    const back = dispute
      ? html`<p><a href="/admin/disputes/${dispute}">Back to the dispute</a></p>`
      : html`<p><a href="/admin">Back to the console</a></p>`;
    const title = status === 404 ? 'Not found' : body.title;
    sendPage(
      reply,
      layout({
        title,
        viewer: request.consoleOperator?.viewer,
        body: html`<h1>${title}</h1>
          ${problemNotice(body)}${back}`,
      }),
      status,
    );
  }
}
