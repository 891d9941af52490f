import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { compareDocuments, describeChanges } from './breaking-changes';

/**
 * `npm run openapi:breaking -- [rev]`: the committed openapi.json against the one at a git revision (HEAD~1 by
 * default). 1 when a change breaks clients written against the older one; 0 when there is nothing to compare with.
 */
export function breakingCommand(args: string[], out: (line: string) => void): number {
  const revision = args[0] ?? 'HEAD~1';
  let before: string;
  try {
    before = execFileSync('git', ['show', `${revision}:openapi.json`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    out(`No openapi.json at ${revision}: nothing to compare.`);
    return 0;
  }
  const changes = compareDocuments(JSON.parse(before), JSON.parse(readFileSync('openapi.json', 'utf8')));
  const breaking = changes.filter((change) => change.breaking);
  if (changes.length > 0) out(describeChanges(changes));
  out(
    breaking.length > 0
      ? `${breaking.length} breaking change(s) to the API against ${revision}.`
      : `No breaking change to the API against ${revision} (${changes.length} additive).`,
  );
  return breaking.length > 0 ? 1 : 0;
}
