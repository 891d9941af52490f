import fc from 'fast-check';
import { fieldsOf, isDecimalField, Operation, Parameter, sampleObject, Schema } from './operations';
import {
  BAD_DECIMALS,
  BAD_NUMBERS,
  BAD_QUERY_BOOLEANS,
  BAD_QUERY_NUMBERS,
  BAD_QUERY_STRINGS,
  BAD_STRINGS,
  badPathSegment,
  CONTENT_TYPES,
  CursorFrom,
  deepBody,
  encodeLoosely,
  EXTRA_FIELDS,
  Filler,
  junkJson,
  MALFORMED_BODIES,
  NON_OBJECT_BODIES,
} from './values';

export type Auth = 'right' | 'none' | 'junk-bearer' | 'forged-jwt' | 'junk-api-key' | 'basic';

/** The body of a case: a JSON value (serialized when sent), raw text, or nothing. */
export type BodyPlan = { json: unknown } | { raw: string } | { none: true };

/** One request of the fuzzer, abstract: fixtures (ids, cursors, tokens) are filled in when it is sent. */
export interface FuzzCase {
  /** What was varied, for the summary. */
  kind: string;
  /** Now and then another method than the operation's: a path that exists with other methods is a 405. */
  method?: string;
  /** Per path parameter: the fixture of that resource, or a raw (encoded) segment. */
  path: Record<string, { fixture: true } | { raw: string }>;
  query: [string, string | CursorFrom][];
  auth: Auth;
  /** `undefined` sends application/json when there is a body; `null` sends no content type. */
  contentType?: string | null;
  body: BodyPlan;
  headers: Record<string, string>;
}

const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });

function junkFor(name: string, schema: Schema): fc.Arbitrary<unknown> {
  const specific: unknown[] = isDecimalField(name, schema)
    ? BAD_DECIMALS
    : schema.type === 'number' || schema.type === 'integer'
      ? BAD_NUMBERS
      : schema.type === 'boolean'
        ? ['true', 'false', 1, 0, null, 'yes']
        : schema.type === 'array'
          ? [[], [null], new Array(200).fill('x'), [[[]]], 'a', { 0: 'a' }, new Array(5000).fill(1)]
          : BAD_STRINGS;
  const enumJunk = (schema.enum ?? []).flatMap((v) => (typeof v === 'string' ? [v.toUpperCase(), ` ${v}`, `${v}\u0000`, [v]] : []));
  return fc.oneof(weighted(4, fc.constantFrom(...specific, ...enumJunk)), weighted(2, junkJson));
}

function setAt(body: Record<string, unknown>, path: string[], value: unknown, remove = false): Record<string, unknown> {
  const copy = structuredClone(body);
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = key === '0' ? [] : {};
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (remove) delete node[last];
  else node[last] = value;
  return copy;
}

/** The schema's body with the required fields and any subset of the optional ones (a valid-looking base). */
function baseBody(schema: Schema | undefined): fc.Arbitrary<Record<string, unknown>> {
  if (!schema?.properties) return fc.constant({});
  const full = sampleObject(schema, true);
  const optional = Object.keys(full).filter((k) => !(schema.required ?? []).includes(k));
  return fc.subarray(optional).map((kept) => {
    const body = sampleObject(schema, false);
    for (const k of kept) body[k] = full[k];
    return body;
  });
}

function bodyPlans(operation: Operation): fc.Arbitrary<{ kind: string; body: BodyPlan; contentType?: string | null }> {
  const fields = fieldsOf(operation.body);
  const base = baseBody(operation.body);
  const json = (kind: string) => (value: unknown) => ({ kind, body: { json: value } as BodyPlan });
  const genericField = fc.constantFrom('name', 'amountCny', 'id', 'reason', 'text', 'field');
  const fieldJunk =
    fields.length > 0
      ? fc
          .tuple(base, fc.constantFrom(...fields))
          .chain(([body, field]) => junkFor(field.path[field.path.length - 1], field.schema).map((v) => setAt(body, field.path, v)))
      : fc.tuple(genericField, junkJson).map(([name, v]) => ({ [name]: v }));
  const required = fields.filter((f) => f.required);
  const missing =
    required.length > 0
      ? fc
          .tuple(base, fc.subarray(required, { minLength: 1 }))
          .map(([body, drop]) => drop.reduce((b, f) => setAt(b, f.path, undefined, true), body))
      : base;
  const plans = [
    weighted(4, base.map(json('valid'))),
    weighted(9, fieldJunk.map(json('field'))),
    weighted(3, missing.map(json('missing'))),
    weighted(
      3,
      fc.tuple(base, fc.constantFrom(...EXTRA_FIELDS)).map(([b, extra]) => json('extra')(Object.assign(Object.create(null), b, extra))),
    ),
    weighted(2, fc.constantFrom(...NON_OBJECT_BODIES).map(json('non-object'))),
    weighted(
      2,
      deepBody.map((raw) => ({ kind: 'deep', body: { raw } as BodyPlan })),
    ),
    weighted(
      2,
      fc.constantFrom(...MALFORMED_BODIES).map((raw) => ({ kind: 'malformed', body: { raw } as BodyPlan })),
    ),
    weighted(
      3,
      fc.tuple(base, fc.constantFrom(...CONTENT_TYPES), fc.boolean()).map(([b, contentType, asForm]) => ({
        kind: 'content-type',
        contentType,
        body: (asForm
          ? { raw: new URLSearchParams(Object.entries(b).map(([k, v]): [string, string] => [k, String(v)])).toString() }
          : { json: b }) as BodyPlan,
      })),
    ),
    weighted(
      1,
      base.map((b) => ({ kind: 'oversized', body: { json: { ...b, padding: new Filler('x', 70000) } } as BodyPlan })),
    ),
    weighted(1, fc.constant({ kind: 'no-body', body: { none: true } as BodyPlan })),
  ];
  if (operation.method === 'GET') {
    // Reads take no body: mostly none, sometimes junk anyway.
    return fc.oneof(weighted(12, fc.constant({ kind: 'no-body', body: { none: true } as BodyPlan })), ...plans.slice(1));
  }
  return fc.oneof(...plans);
}

function queryValue(param: Parameter): fc.Arbitrary<string | CursorFrom> {
  const schema = param.schema ?? {};
  if (param.name === 'cursor') {
    return fc.oneof(
      weighted(2, fc.constant(new CursorFrom())),
      weighted(
        4,
        junkJson.map((v) => new CursorFrom(v)),
      ),
      weighted(2, fc.constantFrom(...BAD_QUERY_STRINGS)),
      weighted(
        2,
        fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
      ),
      weighted(1, fc.string({ maxLength: 40 }).map(encodeLoosely)),
    );
  }
  const valid: string[] = schema.enum
    ? schema.enum.map(String)
    : schema.example !== undefined
      ? [String(schema.example)]
      : schema.type === 'number'
        ? ['1', '100']
        : schema.type === 'boolean'
          ? ['true', 'false']
          : [];
  const bad = isDecimalField(param.name, schema)
    ? BAD_DECIMALS.filter((v): v is string => typeof v === 'string').map(encodeLoosely)
    : schema.type === 'number'
      ? BAD_QUERY_NUMBERS.map(encodeLoosely)
      : schema.type === 'boolean'
        ? BAD_QUERY_BOOLEANS
        : /id$/i.test(param.name)
          ? []
          : BAD_QUERY_STRINGS;
  return fc.oneof(
    ...(valid.length > 0 ? [weighted(2, fc.constantFrom(...valid))] : []),
    ...(bad.length > 0 ? [weighted(4, fc.constantFrom(...bad))] : []),
    weighted(/id$/i.test(param.name) ? 4 : 1, badPathSegment),
    weighted(1, fc.uuid()),
  );
}

function queries(operation: Operation): fc.Arbitrary<{ kind?: string; query: [string, string | CursorFrom][] }> {
  const declared = operation.queryParams;
  const some =
    declared.length > 0 ? fc.subarray(declared, { minLength: 1, maxLength: Math.min(3, declared.length) }) : fc.constant([] as Parameter[]);
  const params = some.chain((chosen) =>
    chosen.length === 0
      ? fc.constant([] as [string, string | CursorFrom][])
      : fc.tuple(...chosen.map((p) => queryValue(p).map((v) => [p.name, v] as [string, string | CursorFrom]))),
  );
  const odd = fc.constantFrom<[string, string][][]>(
    [
      ['limit', '1'],
      ['limit', '2'],
    ],
    [['limit[]', '1']],
    [['limit[x]', '1']],
    [['foo', 'bar']],
    [['__proto__', 'x']],
    [['constructor[prototype][x]', '1']],
    [
      [declared[0]?.name ?? 'q', 'a'],
      [declared[0]?.name ?? 'q', 'b'],
    ],
    [['%', '%']],
  );
  return fc.oneof(
    weighted(declared.length > 0 ? 4 : 8, fc.constant({ query: [] as [string, string | CursorFrom][] })),
    ...(declared.length > 0
      ? [
          weighted(
            6,
            params.map((query) => ({ kind: 'query', query })),
          ),
        ]
      : []),
    weighted(
      1,
      odd.map((query) => ({ kind: 'query', query })),
    ),
  );
}

const AUTHS = fc.oneof(
  weighted(14, fc.constant<Auth>('right')),
  weighted(1, fc.constantFrom<Auth>('none', 'junk-bearer', 'forged-jwt', 'junk-api-key', 'basic')),
);

const HEADERS = fc.oneof(
  weighted(10, fc.constant({} as Record<string, string>)),
  weighted(
    2,
    fc.uuid().map((key) => ({ 'idempotency-key': `fuzz-${key}` })),
  ),
  weighted(
    1,
    fc.constantFrom<Record<string, string>>(
      { 'idempotency-key': '' },
      { 'idempotency-key': ' ' },
      { 'idempotency-key': 'k'.repeat(300) },
      { 'idempotency-key': 'clé' },
      // One key for every request that draws it: replays and 422s for another body or path.
      { 'idempotency-key': 'fuzz-shared-key' },
      { 'x-request-id': '../../x\u00ff' },
      { 'x-request-id': 'r'.repeat(500) },
      { accept: 'text/html' },
      { 'accept-encoding': 'gzip, br' },
      { 'content-length': '0' },
    ),
  ),
);

const OTHER_METHODS = fc.oneof(
  weighted(20, fc.constant<string | undefined>(undefined)),
  weighted(1, fc.constantFrom<string | undefined>('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
);

/** Every kind of bad request for one operation, each case varying one or a few things at once. */
export function casesFor(operation: Operation): fc.Arbitrary<FuzzCase> {
  const path = fc.record(
    Object.fromEntries(
      operation.pathParams.map((p) => [
        p.name,
        fc.oneof(
          weighted(6, fc.constant({ fixture: true as const })),
          weighted(
            1,
            fc.uuid().map((raw) => ({ raw })),
          ),
          weighted(
            3,
            badPathSegment.map((raw) => ({ raw })),
          ),
        ),
      ]),
    ) as Record<string, fc.Arbitrary<{ fixture: true } | { raw: string }>>,
  );
  const cases = fc.tuple(path, queries(operation), bodyPlans(operation), AUTHS, HEADERS, OTHER_METHODS);
  return cases.map(([pathValues, query, plan, auth, headers, other]) => {
    const method = other !== operation.method ? other : undefined;
    const kinds = [plan.kind];
    if (method) kinds.push('method');
    if (query.kind) kinds.push(query.kind);
    if (Object.values(pathValues).some((v) => 'raw' in v)) kinds.push('path');
    if (auth !== 'right') kinds.push('auth');
    if (Object.keys(headers).length > 0) kinds.push('headers');
    return {
      kind: kinds.join('+'),
      method,
      path: pathValues,
      query: query.query,
      auth,
      contentType: plan.contentType,
      body: plan.body,
      headers,
    };
  });
}
