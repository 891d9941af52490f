import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor, PipeTransform, Type } from '@nestjs/common';
import { HTTP_CODE_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ConfigType } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { catchError, from, mergeMap, Observable } from 'rxjs';
import type { AuthUser } from '../common/auth/auth-user';
import { FieldEncryption } from '../common/crypto/field-encryption';
import { DomainError } from '../common/errors';
import { createValidationPipe } from '../common/errors/validation';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../common/errors/problem';
import { PreparedResponse } from '../common/http/prepared-response';
import { httpConfig } from '../config';
import { hashBody } from './canonical-json';
import { IdempotencyRepository } from './idempotency.repository';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
// An in-progress key older than this belongs to a request whose process died; it may be taken over.
const ABANDONED_AFTER_MS = 5 * 60 * 1000;
const RESPONSE_CONTEXT = 'idempotency_keys.response';

/**
 * `Idempotency-Key` on authenticated POSTs (API.md): one execution per caller and key for 24 h; a replay
 * returns the first response with `Idempotent-Replayed: true`; another body or path → 422; while the
 * first still runs → 409; a 5xx is not kept. It runs after the guards; on a conflict it validates the
 * request first, so a 400 still wins over the 409/422 as API.md orders them.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly validationPipe = createValidationPipe();

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

    const key = Array.isArray(header) ? header[0] : header;
    if (!KEY_PATTERN.test(key)) {
      throw DomainError.validation([
        { field: 'Idempotency-Key', code: 'invalid_format', message: 'Idempotency-Key must be 1–255 visible ASCII characters' },
      ]);
    }
    const owner = request.user.id;
    const fingerprint = { method: request.method, path: request.url, requestHash: hashBody(request.body) };
    const claim = await this.records.claim(owner, key, fingerprint, this.config.idempotencyTtlHours, ABANDONED_AFTER_MS);

    if (!claim.claimed) {
      const existing = claim.existing;
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
      if (existing.state === 'in_progress') {
        await this.validateArguments(context, request);
        throw new DomainError('idempotency_key_in_use', 'A request with this Idempotency-Key is still running; retry later');
      }
      const body = existing.response ? JSON.parse(this.encryption.decrypt(existing.response, RESPONSE_CONTEXT)) : undefined;
      throw new PreparedResponse(existing.responseStatus!, body, {
        ...(existing.responseHeaders ?? {}),
        [REPLAYED_HEADER]: 'true',
      });
    }

    const successStatus: number = Reflect.getMetadata(HTTP_CODE_METADATA, context.getHandler()) ?? 201;
    return next.handle().pipe(
      mergeMap((body) =>
        from(
          (async () => {
            await this.records.complete(owner, key, {
              status: successStatus,
              body: this.seal(body),
              headers: { 'content-type': 'application/json; charset=utf-8' },
            });
            return body;
          })(),
        ),
      ),
      catchError((error: unknown) =>
        from(
          (async (): Promise<never> => {
            const problem = toProblem(error);
            if (problem.status < 500) {
              await this.records.complete(owner, key, {
                status: problem.status,
                body: this.seal(problem.body),
                headers: { 'content-type': PROBLEM_CONTENT_TYPE },
              });
            } else {
              await this.records.release(owner, key);
            }
            throw error;
          })(),
        ),
      ),
    );
  }

  private seal(body: unknown) {
    return this.encryption.encrypt(JSON.stringify(body ?? null), RESPONSE_CONTEXT);
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
