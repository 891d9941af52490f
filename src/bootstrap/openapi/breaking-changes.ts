/**
 * What changed between two OpenAPI documents, for a client written against the old one: removed paths, methods,
 * parameters and fields, removed enum values, changed types and newly required request fields are breaking;
 * so is a renamed operationId (generated clients call it); additions are additive. Pure, so the drift test, the
 * CLI and the unit test share it.
 */
type Json = Record<string, unknown>;

export interface Change {
  breaking: boolean;
  where: string;
  what: string;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);

/** What a reference names (the value itself when it is none); undefined when it names nothing. */
function lookUp(document: Json, schema: unknown): Json | undefined {
  let current = schema;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string' && hops < 20; hops += 1) {
    const pointer = current.$ref.replace(/^#\//, '').split('/');
    current = pointer.reduce<unknown>(
      (node, key) => (isObject(node) ? node[key.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined),
      document,
    );
  }
  return isObject(current) ? current : undefined;
}

const resolve = (document: Json, schema: unknown): Json => lookUp(document, schema) ?? {};

function typesOf(schema: Json): string[] {
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : typeof schema.type === 'string' ? [schema.type] : [];
  return schema.nullable === true ? [...types, 'null'] : types;
}

/** Requests: what the server accepts may only widen. Responses: what it sends may only narrow. */
type Direction = 'request' | 'response';

class Comparison {
  readonly changes: Change[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly before: Json,
    private readonly after: Json,
  ) {}

  add(breaking: boolean, where: string, what: string): void {
    this.changes.push({ breaking, where, what });
  }

  schema(oldRaw: unknown, newRaw: unknown, where: string, direction: Direction): void {
    // A pair of named schemas is compared once (at its first use): that also ends recursive schemas.
    const refOf = (schema: unknown) => (isObject(schema) && typeof schema.$ref === 'string' ? schema.$ref : '');
    if (refOf(oldRaw) || refOf(newRaw)) {
      const pair = `${refOf(oldRaw)}|${refOf(newRaw)}|${direction}`;
      if (this.seen.has(pair)) return;
      this.seen.add(pair);
    }
    const before = lookUp(this.before, oldRaw);
    const after = lookUp(this.after, newRaw);
    // A reference that names nothing (a broken document) says nothing to compare.
    if (!before || !after) return;

    const oldTypes = typesOf(before);
    const newTypes = typesOf(after);
    if (oldTypes.length > 0 && newTypes.length > 0) {
      const narrowed =
        direction === 'request' ? oldTypes.filter((t) => !newTypes.includes(t)) : newTypes.filter((t) => !oldTypes.includes(t));
      if (narrowed.length > 0) this.add(true, where, `type changed from ${oldTypes.join('|')} to ${newTypes.join('|')}`);
      else if (oldTypes.join() !== newTypes.join())
        this.add(false, where, `type widened from ${oldTypes.join('|')} to ${newTypes.join('|')}`);
    }

    if (Array.isArray(before.enum) && Array.isArray(after.enum)) {
      const removed = before.enum.filter((value) => !(after.enum as unknown[]).includes(value));
      const added = after.enum.filter((value) => !(before.enum as unknown[]).includes(value));
      if (removed.length > 0) this.add(true, where, `enum values removed: ${removed.map(String).join(', ')}`);
      if (added.length > 0) this.add(false, where, `enum values added: ${added.map(String).join(', ')}`);
    } else if (!Array.isArray(before.enum) && Array.isArray(after.enum) && direction === 'request') {
      this.add(true, where, 'now limited to an enum');
    }

    const oldProperties = (before.properties ?? {}) as Json;
    const newProperties = (after.properties ?? {}) as Json;
    const oldRequired = (before.required ?? []) as string[];
    const newRequired = (after.required ?? []) as string[];
    for (const name of Object.keys(oldProperties)) {
      const at = `${where}.${name}`;
      if (!(name in newProperties)) {
        this.add(true, at, `${direction} field removed`);
        continue;
      }
      if (direction === 'request' && !oldRequired.includes(name) && newRequired.includes(name))
        this.add(true, at, 'request field now required');
      if (direction === 'response' && oldRequired.includes(name) && !newRequired.includes(name))
        this.add(true, at, 'response field no longer always present');
      this.schema(oldProperties[name], newProperties[name], at, direction);
    }
    for (const name of Object.keys(newProperties)) {
      if (name in oldProperties) continue;
      const required = direction === 'request' && newRequired.includes(name);
      this.add(required, `${where}.${name}`, required ? 'new required request field' : `${direction} field added`);
    }

    if (before.items !== undefined && after.items !== undefined) this.schema(before.items, after.items, `${where}[]`, direction);
    for (const keyword of ['oneOf', 'anyOf', 'allOf']) {
      const oldVariants = before[keyword];
      const newVariants = after[keyword];
      if (!Array.isArray(oldVariants) || !Array.isArray(newVariants)) continue;
      if (oldVariants.length !== newVariants.length) {
        this.add(
          direction === 'request' && newVariants.length < oldVariants.length,
          where,
          `${keyword} has ${newVariants.length} variants, had ${oldVariants.length}`,
        );
        continue;
      }
      oldVariants.forEach((variant, index) => this.schema(variant, newVariants[index], `${where}<${keyword}:${index}>`, direction));
    }
  }

  operation(oldOp: Json, newOp: Json, where: string): void {
    // Generated clients name their methods after it (client.listOffers).
    if (oldOp.operationId !== undefined && oldOp.operationId !== newOp.operationId) {
      this.add(true, where, `operationId changed from ${String(oldOp.operationId)} to ${String(newOp.operationId)}`);
    }
    const key = (parameter: Json) => `${String(parameter.in)}:${String(parameter.name).toLowerCase()}`;
    const oldParameters = new Map(((oldOp.parameters ?? []) as Json[]).map((p) => resolve(this.before, p)).map((p) => [key(p), p]));
    const newParameters = new Map(((newOp.parameters ?? []) as Json[]).map((p) => resolve(this.after, p)).map((p) => [key(p), p]));
    for (const [name, parameter] of oldParameters) {
      const next = newParameters.get(name);
      if (!next) this.add(true, `${where} parameter ${name}`, 'parameter removed');
      else {
        if (parameter.required !== true && next.required === true) this.add(true, `${where} parameter ${name}`, 'parameter now required');
        this.schema(parameter.schema, next.schema, `${where} parameter ${name}`, 'request');
      }
    }
    for (const [name, parameter] of newParameters) {
      if (!oldParameters.has(name))
        this.add(
          parameter.required === true,
          `${where} parameter ${name}`,
          parameter.required === true ? 'new required parameter' : 'parameter added',
        );
    }

    const bodySchema = (document: Json, op: Json) => {
      const body = resolve(document, op.requestBody);
      return {
        present: op.requestBody !== undefined,
        required: body.required === true,
        schema: (body.content as Json | undefined)?.['application/json'],
      };
    };
    const oldBody = bodySchema(this.before, oldOp);
    const newBody = bodySchema(this.after, newOp);
    if (oldBody.present && !newBody.present) this.add(true, `${where} body`, 'request body removed');
    else if (!oldBody.present && newBody.present) this.add(newBody.required, `${where} body`, 'request body added');
    else if (oldBody.present) {
      if (!oldBody.required && newBody.required) this.add(true, `${where} body`, 'request body now required');
      if (isObject(oldBody.schema) && isObject(newBody.schema))
        this.schema(oldBody.schema.schema, newBody.schema.schema, `${where} body`, 'request');
    }

    const oldResponses = (oldOp.responses ?? {}) as Json;
    const newResponses = (newOp.responses ?? {}) as Json;
    for (const status of Object.keys(oldResponses)) {
      const at = `${where} ${status}`;
      if (!(status in newResponses)) {
        this.add(status.startsWith('2'), at, 'response removed');
        continue;
      }
      const content = (document: Json, response: unknown) => (resolve(document, response).content ?? {}) as Json;
      const oldContent = content(this.before, oldResponses[status]);
      const newContent = content(this.after, newResponses[status]);
      for (const type of Object.keys(oldContent)) {
        if (!(type in newContent)) this.add(true, at, `${type} response removed`);
        else this.schema((oldContent[type] as Json).schema, (newContent[type] as Json).schema, `${at} ${type}`, 'response');
      }
    }
    for (const status of Object.keys(newResponses)) {
      if (!(status in oldResponses)) this.add(false, `${where} ${status}`, 'response added');
    }
  }
}

export function compareDocuments(before: Json, after: Json): Change[] {
  const comparison = new Comparison(before, after);
  const oldPaths = (before.paths ?? {}) as Record<string, Json>;
  const newPaths = (after.paths ?? {}) as Record<string, Json>;
  for (const [path, item] of Object.entries(oldPaths)) {
    const next = newPaths[path];
    if (!next) {
      comparison.add(true, path, 'path removed');
      continue;
    }
    for (const method of METHODS) {
      if (!item[method]) continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (!next[method]) comparison.add(true, where, 'method removed');
      else comparison.operation(item[method] as Json, next[method] as Json, where);
    }
    for (const method of METHODS) {
      if (next[method] && !item[method]) comparison.add(false, `${method.toUpperCase()} ${path}`, 'method added');
    }
  }
  for (const path of Object.keys(newPaths)) if (!oldPaths[path]) comparison.add(false, path, 'path added');
  return comparison.changes;
}

/** Every JSON pointer where two values differ (a value, a missing key, another array length), first `limit` of them. */
export function jsonDifferences(before: unknown, after: unknown, limit = 50, at = ''): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, pointer: string) => {
    if (out.length >= limit) return;
    if (isObject(a) && isObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const next = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        if (!(key in b)) out.push(`- ${next} (only in the committed document)`);
        else if (!(key in a)) out.push(`+ ${next} (only in the served document)`);
        else walk(a[key], b[key], next);
      }
    } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
      a.forEach((item, index) => walk(item, b[index], `${pointer}/${index}`));
    } else if (JSON.stringify(a) !== JSON.stringify(b)) {
      out.push(`~ ${pointer || '/'}: ${JSON.stringify(a)?.slice(0, 80)} → ${JSON.stringify(b)?.slice(0, 80)}`);
    }
  };
  walk(before, after, at);
  return out;
}

export function describeChanges(changes: Change[]): string {
  return changes.map((change) => `${change.breaking ? 'BREAKING' : 'additive'}  ${change.where}: ${change.what}`).join('\n');
}
