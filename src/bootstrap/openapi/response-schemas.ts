/**
 * Self-contained JSON schemas of the API's 200 responses, taken from the OpenAPI document, for compiled serializers
 * (fast-json-stringify) — and the check that a value has no key its schema leaves out, since such a serializer
 * drops undeclared keys without a word.
 */

export type JsonSchema = { [keyword: string]: unknown };

/** The keywords a serializer reads (and that pick a `oneOf` variant); annotations and validation-only ones go. */
const KEPT = new Set(['type', 'format', 'enum', 'const', 'required']);

/** The 200 JSON schema of `method` `path` (an OpenAPI path, `/v1/trades/{id}`), its `$ref`s resolved. */
export function responseSchemaOf(document: JsonSchema, method: string, path: string): JsonSchema | undefined {
  const paths = document.paths as Record<string, Record<string, JsonSchema>> | undefined;
  const response = paths?.[path]?.[method.toLowerCase()]?.responses as Record<string, JsonSchema> | undefined;
  const content = response?.['200']?.content as Record<string, { schema?: JsonSchema }> | undefined;
  const schema = content?.['application/json']?.schema;
  return schema && selfContained(document, schema);
}

/** `schema` with every `$ref` into `document` replaced by its target, keeping only what serialization needs. */
export function selfContained(document: JsonSchema, schema: JsonSchema, seen: string[] = []): JsonSchema {
  if (typeof schema.$ref === 'string') {
    const ref = schema.$ref;
    // The views are trees: a recursive one could not be inlined, and is refused at start-up rather than looped on.
    if (seen.includes(ref)) throw new Error(`Recursive schema ${ref} cannot be inlined`);
    return selfContained(document, lookUp(document, ref), [...seen, ref]);
  }
  const result: JsonSchema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (KEPT.has(keyword)) result[keyword] = value;
    else if (keyword === 'properties')
      result.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, property]) => [name, selfContained(document, property, seen)]),
      );
    else if (keyword === 'items' || (keyword === 'additionalProperties' && typeof value === 'object'))
      result[keyword] = selfContained(document, value as JsonSchema, seen);
    else if (keyword === 'additionalProperties') result[keyword] = value;
    else if (keyword === 'oneOf' || keyword === 'anyOf' || keyword === 'allOf')
      result[keyword] = (value as JsonSchema[]).map((part) => selfContained(document, part, seen));
  }
  // An object of no declared shape (free-form) is written whole, as JSON.stringify would.
  if (isObjectType(result) && !result.properties && result.additionalProperties === undefined) return {};
  return result;
}

function lookUp(document: JsonSchema, ref: string): JsonSchema {
  if (!ref.startsWith('#/')) throw new Error(`Only local references can be inlined: ${ref}`);
  const target = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], document);
  if (!target || typeof target !== 'object') throw new Error(`Unresolved reference ${ref}`);
  return target as JsonSchema;
}

function isObjectType(schema: JsonSchema): boolean {
  return schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object'));
}

/**
 * The paths (`$.data[0].maker.rating`) of the keys in `value` that `schema` does not declare: what a compiled
 * serializer would drop. A `oneOf`/`anyOf` value is judged by the variant that declares the most of it.
 */
export function undeclaredKeys(schema: JsonSchema, value: unknown, at = '$'): string[] {
  if (value === null || typeof value !== 'object') return [];
  const variants = (schema.oneOf ?? schema.anyOf) as JsonSchema[] | undefined;
  if (variants) {
    const found = variants.filter((variant) => matchesConstants(variant, value)).map((variant) => undeclaredKeys(variant, value, at));
    if (found.length === 0) return [`${at} (no variant matches)`];
    return found.reduce((fewest, keys) => (keys.length < fewest.length ? keys : fewest));
  }
  if (Array.isArray(value)) {
    const items = schema.items as JsonSchema | undefined;
    return items ? value.flatMap((item, index) => undeclaredKeys(items, item, `${at}[${index}]`)) : [];
  }
  const properties = mergedProperties(schema);
  // No declared shape, or any key allowed: written whole.
  if (!properties || schema.additionalProperties === true) return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) => {
    const path = `${at}.${key}`;
    if (inner === undefined) return [];
    if (!(key in properties)) return [path];
    return undeclaredKeys(properties[key], inner, path);
  });
}

function mergedProperties(schema: JsonSchema): Record<string, JsonSchema> | undefined {
  const parts = [schema, ...((schema.allOf as JsonSchema[] | undefined) ?? [])].map(
    (part) => part.properties as Record<string, JsonSchema> | undefined,
  );
  if (parts.every((part) => part === undefined)) return undefined;
  return Object.assign({}, ...parts);
}

/** Whether `value` agrees with the single-valued properties (a discriminator such as `type: fixed`) of `variant`. */
function matchesConstants(variant: JsonSchema, value: object): boolean {
  const properties = (variant.properties ?? {}) as Record<string, JsonSchema>;
  return Object.entries(properties).every(([key, property]) => {
    const only =
      property.const !== undefined
        ? [property.const]
        : Array.isArray(property.enum) && property.enum.length === 1
          ? property.enum
          : undefined;
    return !only || only.includes((value as Record<string, unknown>)[key]);
  });
}
