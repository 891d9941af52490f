#!/usr/bin/env node
/*
 * Builds dist/ only when an input changed: a hash of the sources, the migrations, the tsconfig files and the
 * lock file is compared with the one stamped after the last successful build. Unchanged, it returns at once;
 * changed, tsc rebuilds incrementally (tsconfig.build.json keeps its build info in dist/).
 * `--force` always runs tsc (`npm run build`). Messages go to stderr, so `npm run cli` keeps stdout for the
 * command's own output.
 */
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { existsSync, readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const ROOT = join(__dirname, '..');
const STAMP = join(ROOT, 'dist', '.build-stamp');
const ENTRIES = ['dist/src/main.js', 'dist/src/worker.js', 'dist/src/cli.js'];

function files(dir, keep) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return files(path, keep);
      return keep(entry.name) ? [path] : [];
    });
}

function inputsHash() {
  const hash = createHash('sha256');
  const sources = (name) => name.endsWith('.ts') && !name.endsWith('.spec.ts');
  const inputs = [
    ...files(join(ROOT, 'src'), sources),
    ...files(join(ROOT, 'migrations'), sources),
    ...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((name) => join(ROOT, name)).filter(existsSync),
  ];
  for (const path of inputs) hash.update(relative(ROOT, path)).update('\0').update(readFileSync(path)).update('\0');
  return hash.digest('hex');
}

const hash = inputsHash();
const built = ENTRIES.every((entry) => existsSync(join(ROOT, entry)));
const force = process.argv.includes('--force');
if (!force && built && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash) process.exit(0);

if (!force) process.stderr.write('Building (tsc, incremental)…\n');
const started = Date.now();
const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
  cwd: ROOT,
  stdio: ['ignore', process.stderr, process.stderr],
});
if (tsc.status !== 0) {
  process.stderr.write('The build failed (see above).\n');
  process.exit(tsc.status ?? 1);
}
writeFileSync(STAMP, hash);
if (!force) process.stderr.write(`Built in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
