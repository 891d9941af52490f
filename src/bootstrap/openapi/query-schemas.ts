import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { QUERY_RULES, QueryParameter, queryRules, QueryRules } from '../../common/http/schema-query';
import type { JsonSchema } from './response-schemas';
import { fastifyUrl } from './response-serializers';

/**
 * The hot lists whose query is checked by a JSON schema Fastify compiles from the route's parameters in the
 * OpenAPI document, read by their handler with `@SchemaQuery()`. Each must be in the document: a missing one
 * fails the start.
 */
export const QUERY_SCHEMA_ROUTES: readonly string[] = ['/v1/offers', '/v1/requests', '/v1/trades'];

/** The documented query parameters of `GET path`. */
export function queryParametersOf(document: JsonSchema, path: string): QueryParameter[] | undefined {
  const operation = (document.paths as Record<string, Record<string, JsonSchema>> | undefined)?.[path]?.get;
  const parameters = operation?.parameters as { in?: string; name: string; schema?: JsonSchema; $ref?: string }[] | undefined;
  if (!parameters) return undefined;
  if (parameters.some((parameter) => parameter.$ref)) throw new Error(`GET ${path}: referenced parameters are not supported`);
  return parameters.filter((parameter) => parameter.in === 'query').map(({ name, schema }) => ({ name, schema: schema ?? {} }));
}

/** The rules of each listed route, by its Fastify URL. */
export function querySchemas(document: JsonSchema): Map<string, QueryRules> {
  return new Map(
    QUERY_SCHEMA_ROUTES.map((path) => {
      const parameters = queryParametersOf(document, path);
      if (!parameters) throw new Error(`No GET ${path} with parameters in the OpenAPI document`);
      return [fastifyUrl(path), queryRules(parameters)];
    }),
  );
}

/**
 * Gives the listed routes (their GET, and the HEAD Fastify adds beside it) their querystring schema as Fastify
 * routes are added. A query that fails it is not refused by Fastify: `attachValidation` leaves the failure on
 * the request for `@SchemaQuery()` to explain after the guards, so credentials are still judged first.
 */
export function attachQuerySchemas(app: NestFastifyApplication, document: JsonSchema): void {
  const rules = querySchemas(document);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const found = rules.get(route.url);
      if (!found || !methods.every((method) => method === 'GET' || method === 'HEAD')) return;
      route.schema = { ...route.schema, querystring: found.schema };
      route.attachValidation = true;
      route.config = { ...(route.config as object), [QUERY_RULES]: found } as typeof route.config;
    });
}
