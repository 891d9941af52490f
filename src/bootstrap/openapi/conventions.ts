import { OPERATION_NAMES } from './operation-names';
import { PROBLEM_RESPONSES, problemComponents } from './problems';
import type { RouteFacts } from './route-facts';

type Json = Record<string, unknown>;
interface Operation extends Json {
  operationId: string;
  summary?: string;
  parameters?: Json[];
  requestBody?: Json;
  responses: Record<string, Json>;
  security?: Record<string, string[]>[];
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
/** Answers the conventions cannot see: 503 while the reference rate is stale; console sessions only for operators. */
const EXTRA_STATUSES: Record<string, number[]> = {
  createRequest: [503],
  createOffer: [503],
  acceptRequest: [503],
  takeOffer: [503],
  getReferenceRate: [503],
  createSession: [403],
};
/** Public operations that still check who calls: a password, or a provider's signature. */
const CHECKS_CALLER = new Set(['login', 'createSession', 'receivePaypalWebhook', 'receiveBankWebhook', 'receiveWechatWebhook']);

/** The mocks' imitations of the providers' own APIs (not the sandbox's actions around them). */
const PROVIDER_API = /^\/sandbox\/(paypal\/v\d|wechat\/v3|bank\/v1)\//;

const IDEMPOTENCY_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes a retried POST safe: within 24 h the same key returns the first response (`Idempotent-Replayed: true`) with no second effect; ' +
    'another body or path with it → 422, while the first still runs → 409.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$', example: 'a5f2c0e4-retry-1' },
};

const REPLAYED_HEADER = {
  description: '`true` when this is the stored first response to a request with the same Idempotency-Key',
  schema: { type: 'string', enum: ['true'] },
};

const words = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();

function derivedName(provisional: string): [string, string] {
  const [controller, method] = provisional.split('.');
  const area = controller.replace(/(Mock)?(Reports)?Controller$/, '').replace(/^Sandbox/, '');
  const id = `${controller.startsWith('Sandbox') || /Mock|Faults/.test(controller) ? 'sandbox' : ''}${area}${method[0].toUpperCase()}${method.slice(1)}`;
  const summary = words(method);
  return [id[0].toLowerCase() + id.slice(1), `${summary[0].toUpperCase()}${summary.slice(1)} (${words(area)})`];
}

/** The problem statuses an operation of /v1 can answer, by API.md's conventions and what its guards check. */
function problemStatuses(path: string, method: string, operation: Operation, facts: RouteFacts | undefined): number[] {
  const authenticated = facts ? !facts.public : true;
  const statuses = new Set<number>([429]);
  if ((operation.parameters?.length ?? 0) > 0 || operation.requestBody) statuses.add(400);
  if (authenticated || CHECKS_CALLER.has(operation.operationId)) statuses.add(401);
  if (authenticated && (method !== 'get' || (facts?.roles.length ?? 0) > 0 || facts?.accountManagement || facts?.passwordSignIn))
    statuses.add(403);
  if (path.includes('{')) statuses.add(404);
  if (method !== 'get' && (authenticated || operation.operationId === 'register')) statuses.add(409);
  if (operation.requestBody) [413, 415].forEach((status) => statuses.add(status));
  if (authenticated && method === 'post') statuses.add(422);
  for (const status of EXTRA_STATUSES[operation.operationId] ?? []) statuses.add(status);
  return [...statuses].sort((a, b) => a - b);
}

/**
 * Makes the document what API.md promises, for client generators: readable unique operation ids and summaries,
 * the shared problem responses on every /v1 operation, the Idempotency-Key header on authenticated POSTs,
 * security per operation, UUID path ids, and OpenAPI 3.1's form of nullable.
 */
export function applyConventions(document: Json, facts: Map<string, RouteFacts>): Json {
  const paths = document.paths as Record<string, Record<string, Operation>>;
  const components = (document.components ?? {}) as Record<string, Json>;
  const problems = problemComponents();
  components.schemas = {
    ...(components.schemas ?? {}),
    ...problems.schemas,
    ProviderObject: { type: 'object', additionalProperties: true, description: 'in the provider’s own format (PROVIDERS.md)' },
  };
  components.responses = { ...(components.responses ?? {}), ...problems.responses };
  components.parameters = { ...(components.parameters ?? {}), IdempotencyKey: IDEMPOTENCY_PARAMETER };
  document.components = components;

  const taken = new Set<string>();
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const provisional = operation.operationId;
      const routeFacts = facts.get(provisional);
      const [name, summary] = OPERATION_NAMES[provisional] ?? derivedName(provisional);
      let id = name;
      for (let n = 2; taken.has(id); n += 1) id = `${name}${n}`;
      taken.add(id);
      operation.operationId = id;
      operation.summary ??= summary;
      const isPublic = routeFacts?.public ?? false;
      if (path.startsWith('/sandbox/')) describeProviderAnswers(path, operation);
      // No credentials, said explicitly; the mocks' provider APIs keep their providers' own schemes (PROVIDERS.md).
      if (isPublic && !PROVIDER_API.test(path)) operation.security = [];
      if (!path.startsWith('/v1/')) continue;

      if (!isPublic) operation.security = routeFacts?.passwordSignIn ? [{ bearer: [] }] : [{ bearer: [] }, { apiKey: [] }];

      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'path' && parameter.name === 'id') parameter.schema = { type: 'string', format: 'uuid' };
      }
      if (!isPublic && method === 'post' && !routeFacts?.neverReplayed) {
        operation.parameters = [...(operation.parameters ?? []), { $ref: '#/components/parameters/IdempotencyKey' }];
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) < 300) response.headers = { ...((response.headers as Json) ?? {}), 'Idempotent-Replayed': REPLAYED_HEADER };
        }
      }
      for (const status of Object.keys(operation.responses)) if (Number(status) >= 400) delete operation.responses[status];
      for (const status of problemStatuses(path, method, operation, routeFacts)) {
        operation.responses[String(status)] = { $ref: `#/components/responses/${PROBLEM_RESPONSES[status].name}` };
      }
    }
  }
  markTimes(components.schemas as Record<string, Json>);
  // Relative: the service that serves the document, wherever it runs (a client is given its base URL).
  document.servers = [{ url: '/', description: 'the service serving this document' }];
  document.openapi = '3.1.0';
  return toOpenApi31(document) as Json;
}

/**
 * The mocks' imitations of PayPal's, WeChat Pay's and the bank's APIs answer in their provider's format (PROVIDERS.md),
 * which the service does not model: a JSON object, or the HTML page a PayPal approval link opens.
 */
function describeProviderAnswers(path: string, operation: Operation): void {
  for (const [status, response] of Object.entries(operation.responses)) {
    if (Number(status) >= 300 || response.content) continue;
    response.content = path.endsWith('/checkoutnow')
      ? { 'text/html': { schema: { type: 'string' } } }
      : { 'application/json': { schema: { $ref: '#/components/schemas/ProviderObject' } } };
  }
}

/** API.md: times are ISO-8601 UTC strings; every such field is named `…At` (createdAt, expiresAt, ranAt). */
function markTimes(schemas: Record<string, Json>): void {
  for (const schema of Object.values(schemas)) {
    for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, Json>)) {
      if (/At$/.test(name) && property.type === 'string' && !property.format) property.format = 'date-time';
    }
  }
}

/** OpenAPI 3.0's `nullable: true` as 3.1 (JSON Schema) says it: `null` among the types. */
export function toOpenApi31(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toOpenApi31);
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node as Json).map(([key, value]) => [key, toOpenApi31(value)] as const);
  const schema = Object.fromEntries(entries) as Json;
  if (schema.nullable !== true) return schema;
  delete schema.nullable;
  if (typeof schema.type === 'string') {
    schema.type = [schema.type, 'null'];
    if (Array.isArray(schema.enum)) schema.enum = [...(schema.enum as unknown[]), null];
    return schema;
  }
  const { description, ...rest } = schema;
  return { ...(description ? { description } : {}), anyOf: [rest, { type: 'null' }] };
}
