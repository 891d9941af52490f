import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The line a README block is left out by: it must be the line just before the block's opening fence. */
export const SKIP_MARKER = '<!-- readme-test: skip -->';

export interface ShellBlock {
  /** 1-based line of the opening fence in the Markdown file. */
  line: number;
  text: string;
}

/** Every ```sh block of a Markdown text, in order, but those whose previous line is the skip marker. */
export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trimEnd() !== '```sh') continue;
    let end = i + 1;
    while (end < lines.length && !lines[end].startsWith('```')) end++;
    if (end === lines.length) throw new Error(`the sh block at line ${i + 1} is never closed`);
    if (lines[i - 1]?.trim() !== SKIP_MARKER) blocks.push({ line: i + 1, text: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** Fences a shell snippet could hide behind, so that it would never run: the README uses `sh` only. */
export function otherShellFences(markdown: string): number[] {
  return markdown.split('\n').flatMap((line, i) => (/^```\s*(bash|shell|zsh|console|shell-session)\s*$/.test(line) ? [i + 1] : []));
}

export type BlocksResult = { ok: true; output: string } | { ok: false; block: ShellBlock; output: string; reason: string };

const MARK = '@@readme-block';

/**
 * Runs the blocks in order in one bash process (`set -euo pipefail`, so variables carry from block to block and
 * the first failing command stops the run), stdout and stderr together. curl reads a `.curlrc` that makes any
 * HTTP error status a failure (keeping the body for the report). On failure: the block that was running and its
 * output.
 */
export async function runShellBlocks(
  blocks: ShellBlock[],
  options: { env: Record<string, string>; cwd: string; timeoutMs: number },
): Promise<BlocksResult> {
  const dir = mkdtempSync(join(tmpdir(), 'yb-readme-'));
  writeFileSync(join(dir, '.curlrc'), 'fail-with-body\nshow-error\n');
  const script = ['set -euo pipefail', 'exec 2>&1', ...blocks.flatMap((b, i) => [`printf '\\n${MARK} %d\\n' ${i}`, b.text])].join('\n');
  writeFileSync(join(dir, 'readme.sh'), `${script}\n`);

  const child = spawn('bash', [join(dir, 'readme.sh')], {
    cwd: options.cwd,
    env: { ...options.env, CURL_HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let timedOut = false;
  // The whole process group: a block's children (curl, npm) must not outlive the run.
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, options.timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  if (code === 0 && !timedOut) return { ok: true, output };

  const marks = [...output.matchAll(new RegExp(`\\n${MARK} (\\d+)\\n`, 'g'))];
  const last = marks[marks.length - 1];
  const block = blocks[last ? Number(last[1]) : 0];
  const since = last ? output.slice(last.index + last[0].length) : output;
  return { ok: false, block, output: since, reason: timedOut ? `timed out after ${options.timeoutMs} ms` : `exit status ${code}` };
}

/** A failure as a reader needs it: where the block is, what it says, and what it printed. */
export function describeFailure(result: Extract<BlocksResult, { ok: false }>, file: string): string {
  const tail = result.output.length > 6000 ? `…${result.output.slice(-6000)}` : result.output;
  return `the sh block at ${file}:${result.block.line} failed (${result.reason}):\n${result.block.text}\n--- its output ---\n${tail}`;
}
