import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadHttpConfig } from '../../config';
import { JsonSchema, responseSchemaOf } from './response-schemas';

/**
 * The hot reads whose 200 bodies are written by a serializer compiled from their schema in the OpenAPI document
 * rather than by JSON.stringify. Each must be in the document: a missing one fails the start.
 */
export const SERIALIZED_ROUTES: readonly { method: 'GET'; path: string }[] = [
  { method: 'GET', path: '/v1/offers' },
  { method: 'GET', path: '/v1/requests' },
  { method: 'GET', path: '/v1/trades/{id}' },
  { method: 'GET', path: '/v1/users/{id}' },
];

/** An OpenAPI path as Fastify names the route: `/v1/trades/{id}` → `/v1/trades/:id`. */
export function fastifyUrl(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

/** The 200 schema of each serialized route, by Fastify's `METHOD url`. */
export function serializedSchemas(document: JsonSchema): Map<string, JsonSchema> {
  return new Map(
    SERIALIZED_ROUTES.map(({ method, path }) => {
      const schema = responseSchemaOf(document, method, path);
      if (!schema) throw new Error(`No 200 JSON schema for ${method} ${path} in the OpenAPI document`);
      return [`${method} ${fastifyUrl(path)}`, schema];
    }),
  );
}

/**
 * Gives the serialized routes their 200 schema as Fastify routes are added (before the application's init), so
 * Fastify compiles them with fast-json-stringify. Other statuses (problem details) keep JSON.stringify.
 * The schemas come from the document the service serves at /docs-json, so the two cannot disagree.
 */
export function attachResponseSerializers(app: NestFastifyApplication, document: JsonSchema): void {
  const attached = new Set<string>();
  attachedRoutes.set(app, attached);
  if (!loadHttpConfig().responseSerializers) return;
  const schemas = serializedSchemas(document);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (methods.length !== 1) return;
      const schema = schemas.get(`${methods[0]} ${route.url}`);
      if (!schema) return;
      route.schema = { ...route.schema, response: { 200: schema } };
      attached.add(`${methods[0]} ${route.url}`);
    });
}

const attachedRoutes = new WeakMap<object, ReadonlySet<string>>();

/** The routes (`GET /v1/offers`) of `app` given a compiled serializer. */
export function routesWithSerializers(app: object): ReadonlySet<string> {
  return attachedRoutes.get(app) ?? new Set();
}
