#!/usr/bin/env node
/*
 * `npm run dev`: tsc in watch mode, and the service under `node --watch`, restarted when the build rewrites a
 * file it loaded. Arguments after `--` choose the entry point: `npm run dev -- worker` runs the worker.
 * Logs are readable lines (LOG_PRETTY) unless LOG_PRETTY is set otherwise.
 */
const { spawn } = require('node:child_process');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
const entry = process.argv[2] === 'worker' ? 'dist/src/worker.js' : 'dist/src/main.js';
const children = [];
let service;

function stop(code) {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  process.exitCode = code;
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

const tsc = spawn(
  process.execPath,
  [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--watch', '--preserveWatchOutput'],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
);
children.push(tsc);
tsc.on('exit', (code) => stop(code ?? 1));
tsc.stdout.setEncoding('utf8');
tsc.stdout.on('data', (text) => {
  // tsc's own lines, prefixed, without the blank ones it puts around them.
  for (const line of text.split('\n')) if (line.trim()) process.stderr.write(`[tsc] ${line.trim()}\n`);
  // The service starts after the first build; node --watch restarts it on later ones.
  if (!service && /Found \d+ errors?\. Watching for file changes/.test(text)) {
    service = spawn(process.execPath, ['--watch', entry], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, LOG_PRETTY: process.env.LOG_PRETTY ?? '1' },
    });
    children.push(service);
    service.on('exit', (code) => stop(code ?? 0));
  }
});
