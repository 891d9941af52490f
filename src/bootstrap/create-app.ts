import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { FastifyBodyParser, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Logger, PinoLogger } from 'nestjs-pino';
import type { Histogram } from 'prom-client';
import { protectQueueDashboard } from '../admin/queue-dashboard';
import { AppModule } from '../app.module';
import { consoleHeaders } from '../console/console-http';
import { consoleProblemPage, renderConsoleProblems, showsConsoleProblems } from '../console/console-problems';
import { answerClientError } from './client-errors';
import { ClosingFastifyAdapter } from './closing-adapter';
import { refuseNonJsonBodies } from './json-bodies';
import { serveProblemTypes } from './problem-pages';
import { sendSecurityHeaders } from './security-headers';
import { buildApiDocument } from './openapi/document';
import { attachQuerySchemas } from './openapi/query-schemas';
import type { JsonSchema } from './openapi/response-schemas';
import { attachResponseSerializers } from './openapi/response-serializers';
import { protectOperationsEndpoints } from './operations-endpoints';
import { isConsolePath } from '../common/http/same-origin';
import { createValidationPipe, JSON_NOT_UNICODE, JSON_TOO_DEEP, sendProblem, toProblem } from '../common/errors';
import { jsonHasLoneSurrogate, jsonNestedDeeperThan } from '../common/http/json-text';
import { fastifyTrustProxy, loadAppConfig, loadHttpConfig, loadOperationsConfig } from '../config';
import { logRequest, logRequestAborted, QuietFrameworkLogger, requestLogContext } from '../logging';
import { HTTP_DURATION_METRIC } from '../metrics/metrics.module';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{8,128}$/;

function requestId(raw: IncomingMessage): string {
  const header = raw.headers['x-request-id'];
  // A caller's id is kept only if it is plainly an id: anything else could forge log lines.
  const id = typeof header === 'string' && REQUEST_ID_PATTERN.test(header) ? header : randomUUID();
  (raw as IncomingMessage & { id?: string }).id = id;
  return id;
}

export interface CreateAppOptions {
  workers: boolean;
  /** The application's module: the service's by default; the provider mocks' alone for `npm run start:sandbox`. */
  module?: DynamicModule;
}

/** Builds the HTTP application: Fastify, security headers, body parsing, validation, docs and metrics. */
export async function createApp(options: CreateAppOptions): Promise<NestFastifyApplication> {
  const config = loadAppConfig();
  const http = loadHttpConfig();
  const operations = loadOperationsConfig();
  const adapter = new ClosingFastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    trustProxy: fastifyTrustProxy(http.trustProxy),
    genReqId: requestId,
    requestIdHeader: false,
    // The router's own refusals (bad percent-encoding, an overlong path segment) as problem details too.
    // Under /admin, as a console page (the console's onSend hook does not see the router's own answers).
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      if (!showsConsoleProblems(request.url)) return sendProblem(error, request, reply);
      const { status, body } = toProblem(error);
      void consoleHeaders(reply)
        .status(status)
        .header('content-type', 'text/html; charset=utf-8')
        .send(consoleProblemPage({ ...body, status }));
    },
    clientErrorHandler: answerClientError,
  });
  adapter.closeConnectionsWhenClosing();
  // First of all hooks: whatever is logged while serving the request carries its id, method and path.
  adapter.getInstance().addHook('onRequest', (request, _reply, done) => requestLogContext.run(request.raw, done));
  // The dashboard's hook must be on Fastify before Nest mounts the dashboard; it finds the app once built.
  const built: { app?: NestFastifyApplication } = {};
  protectQueueDashboard(adapter.getInstance(), () => built.app);
  protectOperationsEndpoints(adapter.getInstance(), operations);
  const app = await NestFactory.create<NestFastifyApplication>(
    options.module ?? AppModule.register({ workers: options.workers }),
    adapter,
    {
      bufferLogs: true,
      rawBody: true,
    },
  );
  built.app = app;
  app.useLogger(new QuietFrameworkLogger(app.get(Logger)));
  app.enableShutdownHooks();

  const fastify = app.getHttpAdapter().getInstance();
  // An empty body sent as application/json means "no body" (PayPal's clients do this), not a parse error.
  const parseJson: FastifyBodyParser<Buffer> = (req, body, done) => {
    if (body.length === 0) return done(null, undefined);
    const text = body.toString('utf8');
    // PostgreSQL text cannot hold NUL: refuse it here as bad input rather than fail later as a 500.
    if (/\\u0000/i.test(text))
      return done(
        Object.assign(new Error('NUL characters are not allowed'), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }),
        undefined,
      );
    // Checked before parsing: code that walks the parsed value recursively would overflow the stack (a 500).
    if (jsonNestedDeeperThan(text, http.jsonMaxDepth))
      return done(
        Object.assign(new Error(`JSON nested deeper than ${http.jsonMaxDepth} levels`), { statusCode: 400, code: JSON_TOO_DEEP }),
        undefined,
      );
    if (jsonHasLoneSurrogate(text))
      return done(Object.assign(new Error('Unpaired surrogate escape'), { statusCode: 400, code: JSON_NOT_UNICODE }), undefined);
    return fastify.getDefaultJsonParser('error', 'error')(req as never, text, done);
  };
  app.useBodyParser('application/json', { bodyLimit: config.bodyLimitBytes }, parseJson);
  // API.md: a body is JSON when sent as application/json or any +json type (application/merge-patch+json…).
  app.useBodyParser(/^application\/[\w.!#$&^-]+\+json(\s*;|$)/i, { bodyLimit: config.bodyLimitBytes }, parseJson);

  await app.register(cookie);
  sendSecurityHeaders(fastify);
  refuseNonJsonBodies(fastify);
  renderConsoleProblems(fastify);
  serveProblemTypes(fastify);
  if (config.corsOrigins.length > 0) {
    const corsOptions = {
      origin: config.corsOrigins,
      credentials: true,
      // What a browser client reads besides the body: a 401's reason, a 405's methods, when to come back.
      exposedHeaders: ['x-request-id', 'idempotent-replayed', 'retry-after', 'www-authenticate', 'allow'],
    };
    // The operator console (and its queue dashboard) is for its own pages only: no other origin may read it
    // with the operator's cookie, however trusted by the API.
    await app.register(cors, {
      delegator: (request: FastifyRequest, callback: (error: Error | null, options: typeof corsOptions | { origin: false }) => void) =>
        callback(null, isConsolePath(request.url) ? { origin: false } : corsOptions),
    });
  }

  const histogram = app.get<Histogram<string>>(`PROM_METRIC_${HTTP_DURATION_METRIC.toUpperCase()}`);
  // Every hook below runs for every request: synchronous, so none of them costs a promise and a turn of the loop.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    done(null, payload);
  });
  const accessLog = PinoLogger.root;
  // The access line and the latency histogram, once the answer is sent. The route label is the pattern Fastify
  // matched (`/v1/trades/:id`), never the path, so the series stay few.
  fastify.addHook('onResponse', (request, reply, done) => {
    const elapsedMs = reply.elapsedTime;
    logRequest(accessLog, request.raw, reply.raw, Math.round(elapsedMs));
    histogram.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      elapsedMs / 1000,
    );
    done();
  });
  // A request the client abandoned before its answer: its access line now, as it may never be answered.
  fastify.addHook('onRequestAbort', (request, done) => {
    logRequestAborted(accessLog, request.raw);
    done();
  });

  app.useGlobalPipes(createValidationPipe());

  if (!options.module) {
    // The service's own document, built once here for the schemas Fastify compiles from it.
    const schemas = buildApiDocument(app) as unknown as JsonSchema;
    attachResponseSerializers(app, schemas);
    attachQuerySchemas(app, schemas);
  }
  // The API's docs are the service's: the mocks' process has none.
  if (!operations.docsEnabled || options.module) return app;
  const document = buildApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });

  return app;
}
