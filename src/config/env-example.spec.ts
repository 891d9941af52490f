import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as config from './index';

const ROOT = join(__dirname, '..', '..');

/** `# NAME=value` lines of .env.example: every setting, commented out, with its default (empty: none written). */
function example(): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of readFileSync(join(ROOT, '.env.example'), 'utf8').split('\n')) {
    const match = /^# ([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) settings.set(match[1], match[2]);
  }
  return settings;
}

/** The settings src/config reads: `read.<kind>('NAME'`, the tiers' `dollars('NAME'`, and the two read apart. */
function settingsRead(): string[] {
  const dir = join(ROOT, 'src', 'config');
  const names = new Set(['NODE_ENV', 'TRUST_PROXY']);
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'))) {
    for (const match of readFileSync(join(dir, file), 'utf8').matchAll(/\b(?:read\.\w+|dollars)\(\s*'([A-Z][A-Z0-9_]*)'/g))
      names.add(match[1]);
  }
  return [...names].sort();
}

const LOADERS = Object.entries(config).filter(([name, value]) => /^load\w+Config$/.test(name) && typeof value === 'function') as [
  string,
  (env: NodeJS.ProcessEnv) => unknown,
][];

describe('.env.example', () => {
  it('lists every setting the configuration reads', () => {
    const listed = example();
    expect(settingsRead().filter((name) => !listed.has(name))).toEqual([]);
  });

  it('gives each setting its real default: the configuration it makes is the one an empty environment makes', () => {
    const written = Object.fromEntries([...example()].filter(([, value]) => value !== ''));
    expect(LOADERS.length).toBeGreaterThan(15);
    for (const [name, load] of LOADERS) expect([name, load(written)]).toEqual([name, load({})]);
  });
});
