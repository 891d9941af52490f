/**
 * The operations a bad-input fuzzer covers, read from the service's own OpenAPI document: everything under
 * /v1 and the sandbox's own actions, but not the mocks' imitations of PayPal's, WeChat's and the bank's
 * APIs (they answer in their provider's conventions) and not streams.
 */
export interface Schema {
  type?: string;
  $ref?: string;
  enum?: unknown[];
  example?: unknown;
  default?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  format?: string;
  description?: string;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}

export interface Operation {
  /** "POST /v1/requests/{id}/accept", the key of the per-operation counts. */
  key: string;
  method: string;
  path: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  /** The JSON body's schema with every $ref resolved; undefined when the document declares none. */
  body?: Schema;
  secured: boolean;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Parameter[];
        requestBody?: { content?: Record<string, { schema?: Schema }> };
        security?: unknown[];
        responses?: Record<string, { content?: Record<string, unknown> }>;
      }
    >
  >;
  components?: { schemas?: Record<string, Schema> };
}

const IN_SCOPE = [
  /^\/v1\//,
  /^\/sandbox\/faults(\/|$)/,
  /^\/sandbox\/bank\/incoming$/,
  /^\/sandbox\/bank\/accounts\//,
  /^\/sandbox\/rates\//,
];
const OUT_OF_SCOPE = [/^\/sandbox\/paypal\//, /^\/sandbox\/wechat\//, /^\/sandbox\/bank\/v1\//];
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

export function inScope(path: string): boolean {
  return IN_SCOPE.some((re) => re.test(path)) && !OUT_OF_SCOPE.some((re) => re.test(path));
}

function isStream(operation: { responses?: Record<string, { content?: Record<string, unknown> }> }): boolean {
  return Object.values(operation.responses ?? {}).some((response) => Object.keys(response.content ?? {}).includes('text/event-stream'));
}

function resolve(schema: Schema | undefined, doc: OpenApiDocument, seen: string[] = []): Schema | undefined {
  if (!schema) return undefined;
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop()!;
    if (seen.includes(name)) return { type: 'object' };
    return resolve(doc.components?.schemas?.[name], doc, [...seen, name]);
  }
  const resolved: Schema = { ...schema };
  if (schema.properties) {
    resolved.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, resolve(v, doc, seen)!]));
  }
  if (schema.items) resolved.items = resolve(schema.items, doc, seen);
  return resolved;
}

export function operationsOf(doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!inScope(path)) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation || isStream(operation) || path.endsWith('/stream')) continue;
      const parameters = operation.parameters ?? [];
      operations.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === 'path'),
        queryParams: parameters.filter((p) => p.in === 'query'),
        body: resolve(operation.requestBody?.content?.['application/json']?.schema, doc),
        secured: (operation.security ?? []).length > 0,
      });
    }
  }
  return operations;
}

/** Amounts and rates are decimal strings the DTO keeps untyped; the document shows them by example. */
export function isDecimalField(name: string, schema: Schema): boolean {
  return (typeof schema.example === 'string' && /^-?\d+\.\d+$/.test(schema.example)) || /(Cny|Usd|amount|rate)$/i.test(name);
}

/** A plausible value for a schema: the example, else the first enum value, else one inside the bounds. */
export function sampleOf(name: string, schema: Schema): unknown {
  if (schema.example !== undefined) return schema.example;
  if (schema.enum && schema.enum.length > 0) return schema.enum[0];
  if (schema.properties) return sampleObject(schema, true);
  switch (schema.type) {
    case 'number':
    case 'integer':
      return schema.minimum ?? 1;
    case 'boolean':
      return false;
    case 'array':
      return schema.items ? [sampleOf(name, schema.items)] : [];
    case 'string':
      if (/email/i.test(name)) return 'fuzz@example.com';
      if (/url/i.test(name)) return 'https://app.example.com/back';
      if (/sha256/i.test(name)) return 'e'.repeat(64);
      return 'fuzz'.padEnd(Math.max(schema.minLength ?? 1, 4), 'z').slice(0, schema.maxLength ?? 4000);
    default:
      return isDecimalField(name, schema) ? '10.00' : 'fuzz';
  }
}

/** A body of the schema's fields: the required ones and, when asked, the optional ones too. */
export function sampleObject(schema: Schema, withOptional: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (withOptional || (schema.required ?? []).includes(name)) body[name] = sampleOf(name, property);
  }
  return body;
}

export interface Field {
  /** The path of the field in the body, e.g. ["price", "rate"]. */
  path: string[];
  schema: Schema;
  required: boolean;
}

/** Every field of a body schema, nested objects' and array items' included (items as index 0). */
export function fieldsOf(schema: Schema | undefined, prefix: string[] = []): Field[] {
  const fields: Field[] = [];
  for (const [name, property] of Object.entries(schema?.properties ?? {})) {
    const path = [...prefix, name];
    fields.push({ path, schema: property, required: (schema?.required ?? []).includes(name) });
    if (property.properties) fields.push(...fieldsOf(property, path));
    if (property.items?.properties) fields.push(...fieldsOf(property.items, [...path, '0']));
  }
  return fields;
}
