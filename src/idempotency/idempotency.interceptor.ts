import { CallHandler, ExecutionContext, Inject, Injectable, Logger, NestInterceptor, PipeTransform, Type } from '@nestjs/common';
import { HTTP_CODE_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ConfigType } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { catchError, from, mergeMap, Observable } from 'rxjs';
import type { AuthUser } from '../common/auth/auth-user';
import { FieldEncryption } from '../common/crypto/field-encryption';
import { DomainError, safeErrorForLog } from '../common/errors';
import { createValidationPipe } from '../common/errors/validation';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../common/errors/problem';
import { PreparedResponse } from '../common/http/prepared-response';
import { httpConfig } from '../config';
import { hashBody } from './canonical-json';
import { claimTakenOver, RunningClaim, runningClaim } from './idempotency.fence';
import { IdempotencyRepository } from './idempotency.repository';
import { NEVER_REPLAYED } from './never-replayed.decorator';
import { SHOWN_ONCE } from './shown-once.decorator';
import { withoutPaymentHandles, withoutShownOnce } from './stored-response';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
export const RESPONSE_CONTEXT = 'idempotency_keys.response';

/**
 * `Idempotency-Key` on authenticated POSTs (API.md): one execution per caller and key for 24 h; a replay
 * returns the first response with `Idempotent-Replayed: true`; another body or path → 422; while the
 * first still runs → 409; a 5xx is not kept. It runs after the guards; on a conflict it validates the
 * request first, so a 400 still wins over the 409/422 as API.md orders them. A claim is a lease: if its
 * request died before answering and committed nothing (`IdempotencyFence`), a retry runs once it passes.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly validationPipe = createValidationPipe();
  private readonly logger = new Logger('Idempotency');

  constructor(
    private readonly records: IdempotencyRepository,
    private readonly encryption: FieldEncryption,
    @Inject(httpConfig.KEY) private readonly config: ConfigType<typeof httpConfig>,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthUser }>();
    const header = request.headers[IDEMPOTENCY_HEADER];
    if (request.method !== 'POST' || !request.user || header === undefined) return next.handle();
    // Every call of such a route is a new action (an audited reveal): never stored, never replayed.
    if (Reflect.getMetadata(NEVER_REPLAYED, context.getHandler())) return next.handle();

    // Credentials the route shows once: never stored, so never replayed.
    const shownOnce: string[] = Reflect.getMetadata(SHOWN_ONCE, context.getHandler()) ?? [];

    const key = Array.isArray(header) ? header[0] : header;
    if (!KEY_PATTERN.test(key)) {
      throw DomainError.validation([
        { field: 'Idempotency-Key', code: 'invalid_format', message: 'Idempotency-Key must be 1–255 visible ASCII characters' },
      ]);
    }
    const owner = request.user.id;
    // The path without its query string: the resource the key was used on.
    const fingerprint = { method: request.method, path: request.url.split('?')[0], requestHash: hashBody(request.body) };
    const claim = await this.records.claim(owner, key, fingerprint, this.config.idempotencyTtlHours, this.config.idempotencyLeaseMs);

    if (!claim.claimed) {
      const existing = claim.existing;
      // API.md's order: 400 first, then 409 (still running), then 422 (another request).
      if (existing.state === 'in_progress') {
        await this.validateArguments(context, request);
        if (existing.responseLost) {
          throw new DomainError(
            'idempotency_key_in_use',
            'The request with this Idempotency-Key made its change but stopped before answering; read the resource to see it',
          );
        }
        throw new DomainError('idempotency_key_in_use', 'A request with this Idempotency-Key is still running; retry later');
      }
      if (
        existing.method !== fingerprint.method ||
        existing.path !== fingerprint.path ||
        existing.requestHash !== fingerprint.requestHash
      ) {
        await this.validateArguments(context, request);
        throw new DomainError(
          'idempotency_key_reused',
          'This Idempotency-Key was used with another request; use a new key for a new request',
        );
      }
      // Stored without handles or shown-once credentials; stripped again here for a record kept before that was so.
      const body = existing.response
        ? withoutShownOnce(withoutPaymentHandles(JSON.parse(this.encryption.decrypt(existing.response, RESPONSE_CONTEXT))), shownOnce)
        : undefined;
      throw new PreparedResponse(existing.responseStatus!, body, { ...(existing.responseHeaders ?? {}), [REPLAYED_HEADER]: 'true' });
    }

    const claimId = claim.claimId;
    const successStatus: number = Reflect.getMetadata(HTTP_CODE_METADATA, context.getHandler()) ?? 201;
    // The handler runs in this context (Nest binds it when handle() is called), so its transactions are fenced.
    const running: RunningClaim = { ownerId: owner, key, claimId, running: true };
    const handled = runningClaim.run(running, () => next.handle());
    return handled.pipe(
      // Errors of the handler only: a failure to store a success below must not turn it into an error.
      catchError((error: unknown) =>
        from(
          (async (): Promise<never> => {
            running.running = false;
            const problem = toProblem(error);
            let kept = true;
            try {
              if (problem.status < 500) {
                kept = await this.records.complete(owner, key, claimId, {
                  status: problem.status,
                  body: this.seal(problem.body),
                  headers: { 'content-type': PROBLEM_CONTENT_TYPE },
                });
              } else {
                await this.records.release(owner, key, claimId);
              }
            } catch (storeError) {
              // A refused request changed nothing, so freeing the key is safe (release keeps a committed change's
              // claim); if even that fails, the key stays blocked.
              this.logger.error({ error: safeErrorForLog(storeError) }, 'Could not record an idempotent refusal');
              await this.records.release(owner, key, claimId).catch(() => undefined);
            }
            // A refusal decided after a retry took the key over may have seen the retry's own change (the amount it
            // took): the key's outcome is the retry's, so this request answers that, as it does at a refused commit.
            // Only for the refusals that rank with that 409 or after it (API.md's order); a 400, 401, 403 or 404 is
            // this request's own answer, which the retry's change cannot have caused.
            if (!kept && (problem.status === 409 || problem.status === 422)) throw claimTakenOver();
            throw error;
          })(),
        ),
      ),
      mergeMap((body) =>
        from(
          (async () => {
            running.running = false;
            try {
              await this.records.complete(owner, key, claimId, {
                status: successStatus,
                body: this.seal(withoutShownOnce(body, shownOnce)),
                headers: { 'content-type': 'application/json; charset=utf-8' },
              });
            } catch (storeError) {
              // The effect has committed: the key stays in progress (retries get 409) rather than run it twice.
              this.logger.error({ error: safeErrorForLog(storeError) }, 'Could not record an idempotent response');
            }
            return body;
          })(),
        ),
      ),
    );
  }

  /** A response as stored for replays: encrypted, and without payment handles (a replay never carries one) or shown-once fields. */
  private seal(body: unknown) {
    return this.encryption.encrypt(JSON.stringify(withoutPaymentHandles(body ?? null)), RESPONSE_CONTEXT);
  }

  /** Runs the route's body and path validation as the pipes would, without running the handler. */
  private async validateArguments(context: ExecutionContext, request: FastifyRequest): Promise<void> {
    const controller = context.getClass();
    const handler = context.getHandler().name;
    const args: Record<string, { index: number; data?: string; pipes?: PipeTransform[] }> =
      Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler) ?? {};
    const types: Type[] = Reflect.getMetadata('design:paramtypes', controller.prototype, handler) ?? [];
    for (const [key, arg] of Object.entries(args)) {
      const paramtype = Number(key.split(':')[0]);
      if (paramtype === RouteParamtypes.BODY) {
        await this.validationPipe.transform(request.body, { type: 'body', metatype: types[arg.index], data: arg.data });
      } else if (paramtype === RouteParamtypes.PARAM && arg.data) {
        const value = (request.params as Record<string, string>)[arg.data];
        for (const pipe of arg.pipes ?? []) await pipe.transform(value, { type: 'param', metatype: types[arg.index], data: arg.data });
      }
    }
  }
}
