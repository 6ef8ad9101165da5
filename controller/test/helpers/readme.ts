import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../../..');

/**
 * The commands the README shows a user: every line of its ```sh blocks (comments after
 * two spaces and `#` dropped, `export` lines skipped: they set the shell up) and every
 * inline code span that is a command (`npx …`, `npm …`, `roomctl --…`). Whitespace is
 * collapsed so a re-aligned comment column does not change a command.
 */
export function readmeCommands(file = join(repoRoot, 'README.md')): string[] {
  const text = readFileSync(file, 'utf8');
  const found = new Set<string>();
  const add = (c: string) => {
    const command = c.replace(/\s{2,}#.*$/, '').replace(/\s+/g, ' ').trim();
    if (command && !command.startsWith('export ') && !command.startsWith('#')) found.add(command);
  };
  let inShell = false;
  for (const line of text.split('\n')) {
    if (/^```(sh|bash|shell)\s*$/.test(line)) inShell = true;
    else if (line.startsWith('```')) inShell = false;
    else if (inShell) add(line);
    else for (const m of line.matchAll(/`((?:npx|npm) [^`]+|roomctl --[^`]+)`/g)) add(m[1]!);
  }
  return [...found];
}

/** The lines of the README's fenced block that follows the first line containing `after`. */
export function readmeBlockAfter(after: string, file = join(repoRoot, 'README.md')): string[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  let i = lines.findIndex((l) => l.includes(after));
  if (i < 0) throw new Error(`README has no line containing ${JSON.stringify(after)}`);
  while (i < lines.length && !lines[i]!.startsWith('```')) i++;
  const block: string[] = [];
  for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) block.push(lines[i]!);
  return block;
}
