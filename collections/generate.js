#!/usr/bin/env node
// @ts-check
/*
 * The Postman (v2.1) collection of the API, generated from openapi.json: one request per operation, in a folder per
 * tag, with an example body built from the schemas, auth from the collection's `token` (or `apiKey`) variable and
 * the address from `baseUrl`. Logging in stores the access token in `token`, so the rest can be clicked through.
 * Postman, Bruno and Insomnia import it.
 *
 * Usage: npm run collection                  (writes collections/yuanbridge.postman_collection.json)
 *        node collections/generate.js --check  (exits 1 when the committed collection is not what openapi.json gives)
 */
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const target = path.join(__dirname, 'yuanbridge.postman_collection.json');
const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

/** @typedef {Record<string, any>} Json */

/** @param {Json} document */
function buildCollection(document) {
  /** @param {Json} node */
  const resolve = (node) => {
    let current = node;
    while (current && current.$ref) {
      current = current.$ref
        .slice(2)
        .split('/')
        .reduce((/** @type {Json} */ at, /** @type {string} */ key) => at[key], document);
    }
    return current;
  };

  /**
   * A value a person would send: the schema's example, else one built from its parts (required properties, and
   * optional ones only where the document gives an example).
   * @param {Json} node
   * @param {number} depth
   * @returns {unknown}
   */
  const example = (node, depth = 0) => {
    const schema = resolve(node);
    if (!schema || depth > 8) return null;
    if (schema.example !== undefined) return schema.example;
    if (schema.default !== undefined) return schema.default;
    if (Array.isArray(schema.enum)) return schema.enum[0];
    const variants = schema.oneOf ?? schema.anyOf;
    if (variants) return example(variants[0], depth + 1);
    if (schema.allOf) return Object.assign({}, ...schema.allOf.map((part) => example(part, depth + 1)));
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
    if (type === 'object' || schema.properties) {
      const required = new Set(schema.required ?? []);
      const body = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        if (required.has(name) || resolve(property)?.example !== undefined) body[name] = example(property, depth + 1);
      }
      return body;
    }
    if (type === 'array') return [example(schema.items ?? {}, depth + 1)];
    if (type === 'integer' || type === 'number') return schema.minimum ?? 0;
    if (type === 'boolean') return false;
    if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
    if (schema.format === 'email') return 'someone@example.com';
    if (schema.format === 'date-time') return '2026-01-01T00:00:00.000Z';
    return 'string';
  };

  /**
   * A query or header value to start from: only what the document suggests (example, default, first of an enum).
   * @param {Json} node
   */
  const suggested = (node) => {
    const schema = resolve(node) ?? {};
    const value = schema.example ?? schema.default ?? schema.enum?.[0];
    return value === undefined ? '' : String(value);
  };

  /** @param {Json} operation */
  const auth = (operation) => {
    const schemes = (operation.security ?? []).flatMap((/** @type {Json} */ entry) => Object.keys(entry));
    if (schemes.length === 0) return { type: 'noauth' };
    if (schemes.includes('bearer')) return undefined; // the collection's own: Bearer {{token}}
    return {
      type: 'apikey',
      apikey: [
        { key: 'key', value: 'X-Api-Key', type: 'string' },
        { key: 'value', value: '{{apiKey}}', type: 'string' },
        { key: 'in', value: 'header', type: 'string' },
      ],
    };
  };

  /**
   * @param {string} route
   * @param {string} method
   * @param {Json} operation
   * @param {Json[]} shared
   */
  const request = (route, method, operation, shared) => {
    const parameters = [...shared, ...(operation.parameters ?? [])].map(resolve);
    const segments = route
      .split('/')
      .filter(Boolean)
      .map((segment) => segment.replace(/^\{(.+)\}$/, ':$1'));
    const query = parameters
      .filter((p) => p.in === 'query')
      .map((p) => ({
        key: p.name,
        value: suggested(p.schema ?? {}),
        ...(p.description ? { description: p.description } : {}),
        ...(p.required ? {} : { disabled: true }),
      }));
    const header = parameters
      .filter((p) => p.in === 'header')
      .map((p) => ({
        key: p.name,
        value: p.name === 'Idempotency-Key' ? '{{$guid}}' : suggested(p.schema ?? {}),
        ...(p.description ? { description: p.description } : {}),
        ...(p.required ? {} : { disabled: true }),
      }));
    const json = operation.requestBody?.content?.['application/json'];
    if (json) header.unshift({ key: 'Content-Type', value: 'application/json' });
    const rawQuery = query.filter((q) => !q.disabled).map((q) => `${q.key}=${q.value}`);
    const item = {
      name: operation.summary ?? operation.operationId,
      request: {
        method: method.toUpperCase(),
        header,
        url: {
          raw: `{{baseUrl}}/${segments.join('/')}${rawQuery.length ? `?${rawQuery.join('&')}` : ''}`,
          host: ['{{baseUrl}}'],
          path: segments,
          ...(query.length ? { query } : {}),
          ...(parameters.some((p) => p.in === 'path')
            ? {
                variable: parameters
                  .filter((p) => p.in === 'path')
                  .map((p) => ({ key: p.name, value: '', description: p.description ?? `${p.name} (${p.schema?.format ?? 'string'})` })),
              }
            : {}),
        },
        ...(json
          ? { body: { mode: 'raw', raw: JSON.stringify(example(json.schema ?? {}), null, 2), options: { raw: { language: 'json' } } } }
          : {}),
        ...(auth(operation) ? { auth: auth(operation) } : {}),
        description: [operation.description, `operationId: \`${operation.operationId}\``].filter(Boolean).join('\n\n'),
      },
    };
    // Logging in keeps the token for every request after it.
    if (operation.operationId === 'login') {
      item.event = [
        {
          listen: 'test',
          script: {
            type: 'text/javascript',
            exec: ["if (pm.response.code === 200) pm.collectionVariables.set('token', pm.response.json().accessToken);"],
          },
        },
      ];
    }
    return item;
  };

  /** @type {Map<string, Json[]>} */
  const folders = new Map();
  for (const [route, pathItem] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = pathItem[method];
      if (!operation) continue;
      const tag = operation.tags?.[0] ?? 'other';
      if (!folders.has(tag)) folders.set(tag, []);
      folders.get(tag)?.push(request(route, method, operation, pathItem.parameters ?? []));
    }
  }
  return {
    info: {
      name: document.info.title,
      description: `${document.info.description ?? ''}\n\nGenerated from openapi.json by \`npm run collection\`: do not edit by hand.`,
      schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    },
    auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{token}}', type: 'string' }] },
    variable: [
      { key: 'baseUrl', value: 'http://127.0.0.1:3000', type: 'string' },
      { key: 'token', value: '', type: 'string', description: 'set by signing in (auth folder)' },
      { key: 'apiKey', value: '', type: 'string', description: 'an API key from POST /v1/me/api-keys' },
    ],
    item: [...folders.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, item]) => ({ name, item })),
  };
}

function main() {
  const document = JSON.parse(fs.readFileSync(path.join(root, 'openapi.json'), 'utf8'));
  const text = `${JSON.stringify(buildCollection(document), null, 2)}\n`;
  if (process.argv.includes('--check')) {
    const committed = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
    if (committed !== text) {
      process.stderr.write(`${path.relative(root, target)} is not what openapi.json gives: run npm run collection\n`);
      process.exit(1);
    }
    return;
  }
  fs.writeFileSync(target, text);
  process.stdout.write(`Wrote ${path.relative(root, target)}\n`);
}

module.exports = { buildCollection };

if (require.main === module) main();
