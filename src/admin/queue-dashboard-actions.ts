import type { BeforeHookResult, HookContext } from '@bull-board/api/typings/app';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditRepository } from '../audit/audit.repository';

/**
 * The operator each admitted dashboard request was admitted as, keyed by the request's headers object: the one
 * object Fastify's request and bull-board's handler request share (the adapter passes it on as is).
 */
const operators = new WeakMap<object, string>();

export function rememberOperator(headers: object, operatorId: string): void {
  operators.set(headers, operatorId);
}

/**
 * bull-board's `before` hook, run ahead of every dashboard API call. Reads pass. A mutating call (retry, remove,
 * clean, pause, promote, add, empty…: every route that is not a GET) is refused unless actions are enabled
 * (`QUEUE_DASHBOARD_ACTIONS`), and then runs only once the operator audit log holds it: the operator, the
 * action, the queue and the job. If the entry cannot be written, the action does not run.
 */
export function queueDashboardGate(actionsEnabled: boolean, audit: AuditRepository, dataSource: DataSource) {
  const logger = new Logger('QueueDashboard');
  return async (context: HookContext): Promise<BeforeHookResult> => {
    if (context.method === 'get') return undefined;
    if (!actionsEnabled) return { allow: false, status: 405, errorKey: 'ERRORS.QUEUE_READ_ONLY' };
    const operatorId = operators.get(context.request.headers);
    if (!operatorId) return { allow: false, status: 403, errorKey: 'ERRORS.FORBIDDEN' };
    const params = (context.request.params ?? {}) as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value.slice(0, 200) : null);
    const action = actionName(context.route);
    const detail = {
      method: context.method.toUpperCase(),
      route: context.route,
      queue: text(params.queueName),
      jobId: text(params.jobId),
      ...(text(params.queueStatus) ? { status: text(params.queueStatus) } : {}),
      ...(text(params.schedulerId) ? { schedulerId: text(params.schedulerId) } : {}),
    };
    try {
      await audit.record(dataSource.manager, { operatorId, action, targetType: 'queue', targetId: null, detail });
    } catch (error) {
      logger.error({ action, queue: detail.queue }, 'A queue dashboard action was refused: its audit entry could not be written');
      throw error;
    }
    return undefined;
  };
}

/** `queues.<what>` from the route: `/api/queues/:queueName/:jobId/retry` → `queues.retry`, `/api/queues/pause` → `queues.pause`. */
export function actionName(route: string): string {
  const words = route.split('/').filter((part) => part && !part.startsWith(':') && part !== 'api' && part !== 'queues');
  return `queues.${words.join('.') || 'update'}`;
}
