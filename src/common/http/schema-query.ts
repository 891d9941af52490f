import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ApiQuery, ApiQueryOptions } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { DomainError, FieldError } from '../errors';

/**
 * A list's query validated by Fastify with a JSON schema made from the route's parameters in the OpenAPI document
 * (`attachQuerySchemas` at start), instead of class-validator: a valid query costs one compiled check. A query that
 * fails it is explained here field by field, with the codes, messages and order class-validator gave
 * (`ValidationPipe` with `whitelist` and `forbidNonWhitelisted`), so a client sees the same problem details.
 */

type JsonSchema = { [keyword: string]: unknown };

/** One documented query parameter, as the OpenAPI document has it. */
export interface QueryParameter {
  name: string;
  schema: JsonSchema;
}

/** What a route's query is checked against: built once at start from its documented parameters. */
export interface QueryRules {
  /** The JSON schema Fastify compiles for the querystring. */
  readonly schema: JsonSchema;
  /** Each parameter's check of a raw value: the field's error, or its value as the handler receives it. */
  readonly fields: ReadonlyMap<string, (value: unknown) => FieldError | { value: unknown }>;
  /** The number fields: Ajv skips its bounds for an infinite one (`limit=Infinity`), so they are looked at again. */
  readonly numbers: readonly string[];
}

/** Where `attachQuerySchemas` leaves a route's rules (its Fastify route config). */
export const QUERY_RULES = 'queryRules';

// Keywords that only describe: they neither refuse nor change a value.
const ANNOTATIONS = new Set(['description', 'example', 'examples', 'default', 'title', 'format']);

/**
 * The rules of a query with these parameters. Supported: an enum of strings, a number with bounds (and
 * `multipleOf: 1` for an integer), a string with a `maxLength`, and a decimal string documented by its `pattern`,
 * which is passed as sent (the money module refuses it with its own codes). Anything else fails the start, so the
 * check can never quietly differ from the document.
 */
export function queryRules(parameters: readonly QueryParameter[]): QueryRules {
  const properties: Record<string, JsonSchema> = {};
  const fields = new Map<string, (value: unknown) => FieldError | { value: unknown }>();
  const numbers: string[] = [];
  for (const { name, schema } of parameters) {
    if (schema.type === 'number' || schema.type === 'integer') numbers.push(name);
    const keywords = Object.keys(schema).filter((keyword) => !ANNOTATIONS.has(keyword));
    const [validating, check] = ruleOf(name, schema, keywords);
    properties[name] = validating;
    fields.set(name, check);
  }
  // `propertyNames` rather than `additionalProperties: false`: Fastify's Ajv would silently remove unknown ones.
  const schema = { type: 'object', properties, propertyNames: { enum: Object.keys(properties) } };
  return { schema, fields, numbers };
}

function ruleOf(name: string, schema: JsonSchema, keywords: string[]): [JsonSchema, (value: unknown) => FieldError | { value: unknown }] {
  const only = (...allowed: string[]) => {
    const other = keywords.filter((keyword) => !allowed.includes(keyword));
    if (other.length > 0) throw new Error(`Query parameter ${name}: ${other.join(', ')} cannot be checked by its schema`);
  };
  if (Array.isArray(schema.enum)) {
    only('type', 'enum');
    const values = schema.enum as unknown[];
    const message = `${name} must be one of the following values: ${values.join(', ')}`;
    return [{ type: 'string', enum: values }, (value) => (values.includes(value) ? { value } : fieldError(name, 'not_allowed', message))];
  }
  if (schema.type === 'string' && typeof schema.pattern === 'string') {
    only('type', 'pattern');
    return [{}, (value) => ({ value })];
  }
  if (schema.type === 'string') {
    only('type', 'maxLength');
    const max = schema.maxLength as number | undefined;
    return [
      { type: 'string', ...(max === undefined ? {} : { maxLength: max }) },
      (value) => {
        if (max !== undefined && !(typeof value === 'string' && textLength(value) <= max))
          return fieldError(name, 'too_long', `${name} must be shorter than or equal to ${max} characters`);
        if (typeof value !== 'string') return fieldError(name, 'not_a_string', `${name} must be a string`);
        return { value };
      },
    ];
  }
  if (schema.type === 'number' || schema.type === 'integer') {
    only('type', 'minimum', 'maximum', 'multipleOf');
    if (schema.multipleOf !== undefined && schema.multipleOf !== 1)
      throw new Error(`Query parameter ${name}: only multipleOf 1 is supported`);
    const integer = schema.type === 'integer' || schema.multipleOf === 1;
    const min = schema.minimum as number | undefined;
    const max = schema.maximum as number | undefined;
    const validating: JsonSchema = { type: integer ? 'integer' : 'number' };
    if (min !== undefined) validating.minimum = min;
    if (max !== undefined) validating.maximum = max;
    return [
      validating,
      (raw) => {
        // As class-transformer's Number conversion did: '' is 0, 'abc' NaN, a repeated parameter stays a list.
        const value = typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : raw;
        const number = typeof value === 'number';
        // class-validator's order: the upper bound, the lower, then integer.
        if (max !== undefined && !(number && value <= max)) return fieldError(name, 'too_large', `${name} must not be greater than ${max}`);
        if (min !== undefined && !(number && value >= min)) return fieldError(name, 'too_small', `${name} must not be less than ${min}`);
        if (integer && !(number && Number.isInteger(value))) return fieldError(name, 'not_an_integer', `${name} must be an integer number`);
        return { value };
      },
    ];
  }
  throw new Error(`Query parameter ${name}: a ${String(schema.type)} cannot be checked by its schema`);
}

function fieldError(field: string, code: string, message: string): FieldError {
  return { field, code, message };
}

/** A text's length as class-validator's MaxLength counted it: code points, less emoji presentation selectors. */
function textLength(text: string): number {
  const selectors = text.match(/[^\uFE0F\uFE0E][\uFE0F\uFE0E]/g)?.length ?? 0;
  const pairs = text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0;
  return text.length - selectors - pairs;
}

/**
 * The query of a request whose querystring failed its compiled schema: every bad field named as class-validator
 * named it (unknown parameters first, then the DTO's fields in `order`), or, when none is bad by those rules
 * (a name such as `constructor` that class-validator's whitelist let through), the query converted as it was.
 */
export function explainQuery(rules: QueryRules, query: Record<string, unknown>, order: readonly string[]): Record<string, unknown> {
  const errors: FieldError[] = [];
  for (const name of Object.keys(query))
    if (!rules.fields.has(name) && !(name in Object.prototype))
      errors.push(fieldError(name, 'unknown_field', `property ${name} should not exist`));
  const converted: Record<string, unknown> = {};
  const names = [...order.filter((name) => rules.fields.has(name)), ...[...rules.fields.keys()].filter((name) => !order.includes(name))];
  for (const name of names) {
    const raw = query[name];
    if (raw === undefined || raw === null) continue;
    const checked = rules.fields.get(name)!(raw);
    if ('value' in checked) converted[name] = checked.value;
    else errors.push(checked);
  }
  if (errors.length > 0) throw DomainError.validation(errors);
  return converted;
}

/**
 * The query a handler receives, given whether its compiled schema refused it: as Fastify left it when it passed
 * (numbers converted), else as `explainQuery` judges it.
 */
export function checkedQuery(
  rules: QueryRules,
  query: Record<string, unknown>,
  refused: boolean,
  order: readonly string[],
): Record<string, unknown> {
  if (!refused && rules.numbers.every((name) => query[name] === undefined || Number.isFinite(query[name]))) return query;
  return explainQuery(rules, query, order);
}

// @nestjs/swagger keeps each class's documented properties, its ancestors' first, on its prototype.
const DOCUMENTED_PROPERTIES = 'swagger/apiModelPropertiesArray';
const PROPERTY_METADATA = 'swagger/apiModelProperties';

/** A query class's fields in the order class-validator checked them: its own, then its ancestors', oldest first. */
export function fieldOrder(type: abstract new () => unknown): string[] {
  const chain: object[] = [];
  for (let prototype = type.prototype as object; prototype !== Object.prototype; prototype = Object.getPrototypeOf(prototype) as object)
    chain.push(prototype);
  const own = (prototype: object): string[] => {
    const all = (Reflect.getOwnMetadata(DOCUMENTED_PROPERTIES, prototype) as string[] | undefined) ?? [];
    const inherited =
      (Reflect.getMetadata(DOCUMENTED_PROPERTIES, Object.getPrototypeOf(prototype) as object) as string[] | undefined) ?? [];
    return all.filter((key) => !inherited.includes(key)).map((key) => key.slice(1));
  };
  return [...own(chain[0]), ...chain.slice(1).reverse().flatMap(own)];
}

type QueryRequest = FastifyRequest & { validationError?: Error };

/**
 * The handler's query, checked by the route's compiled schema (the route must be one `attachQuerySchemas` gave
 * one). Read after the guards, as a pipe would be: a caller without credentials is still told so first.
 */
export function SchemaQuery(): ParameterDecorator {
  return (target, key, index) => {
    const types = Reflect.getMetadata('design:paramtypes', target, key!) as (abstract new () => unknown)[];
    const order = fieldOrder(types[index]);
    const read = createParamDecorator((_data: unknown, context: ExecutionContext) => {
      const request = context.switchToHttp().getRequest<QueryRequest>();
      const rules = (request.routeOptions.config as unknown as Record<string, unknown>)[QUERY_RULES] as QueryRules | undefined;
      // Never an unchecked query: a route without its schema is a defect of the start, not the client's.
      if (!rules) throw new Error(`No query schema for ${request.method} ${request.routeOptions.url}`);
      return checkedQuery(rules, request.query as Record<string, unknown>, request.validationError !== undefined, order);
    });
    read()(target, key, index);
    // Documented as @Query() documents its class: a parameter for each documented field, as its decorators say.
    const descriptor = Object.getOwnPropertyDescriptor(target, key!)!;
    const prototype = types[index].prototype as object;
    for (const property of (Reflect.getMetadata(DOCUMENTED_PROPERTIES, prototype) as string[] | undefined) ?? []) {
      const name = property.slice(1);
      const metadata = Reflect.getMetadata(PROPERTY_METADATA, prototype, name) as ApiQueryOptions;
      ApiQuery({ ...metadata, name })(target, key!, descriptor);
    }
  };
}
