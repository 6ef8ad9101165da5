import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Crash-safe small JSON files (the schedule, the alert book).
 *
 * write: the new text goes to `<file>.tmp`, is fsynced, the current file is hard-linked
 * as `<file>.bak` (the previous good copy), then `<file>.tmp` is renamed over `<file>`
 * and the directory is fsynced. rename() replaces atomically, so at every instant
 * `<file>` holds either the whole old text or the whole new text — a crash or power
 * cut mid-write never leaves a half file in its place.
 *
 * read: `<file>` is parsed; if it is unreadable or corrupt (e.g. truncated by a disk
 * that lied about fsync, or edited by hand), it is moved aside as
 * `<file>.corrupt-<time>` for a human to look at, reported, and `<file>.bak` is used.
 * The good backup is never overwritten by a corrupt file: the next write finds no
 * `<file>` to link, so `.bak` stays until a new good file exists.
 */
export interface JsonRead<T> {
  value?: T;
  source: 'file' | 'backup' | 'none';
  /** What was wrong, each naming the file; empty when the main file was fine. */
  problems: string[];
  /** Where a corrupt main file was moved to, if it was. */
  movedAside?: string;
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeTextAtomic(file, `${JSON.stringify(value, null, 1)}\n`);
}

export function writeTextAtomic(file: string, text: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const bak = `${file}.bak`;
  if (existsSync(file)) {
    try {
      unlinkSync(bak);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    linkSync(file, bak);
  }
  renameSync(tmp, file);
  fsyncDir(dir);
}

export function readJsonWithBackup<T>(file: string, parse: (json: unknown) => T, now: () => number = Date.now): JsonRead<T> {
  const problems: string[] = [];
  const main = tryRead(file, parse);
  if (main.ok) return { value: main.value, source: 'file', problems };
  let movedAside: string | undefined;
  if (main.reason !== 'missing') {
    problems.push(`${file}: ${main.reason}`);
    movedAside = `${file}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(file, movedAside);
    } catch (err) {
      problems.push(`${file}: could not move the corrupt file aside (${(err as Error).message})`);
      movedAside = undefined;
    }
  }
  const bak = tryRead(`${file}.bak`, parse);
  if (bak.ok) {
    if (main.reason === 'missing') problems.push(`${file}: missing; using the previous good copy ${basename(file)}.bak`);
    else problems.push(`${file}: using the previous good copy ${basename(file)}.bak`);
    return { value: bak.value, source: 'backup', problems, movedAside };
  }
  if (bak.reason !== 'missing') problems.push(`${file}.bak: ${bak.reason}`);
  return { source: 'none', problems, movedAside };
}

type Attempt<T> = { ok: true; value: T } | { ok: false; reason: string };

function tryRead<T>(file: string, parse: (json: unknown) => T): Attempt<T> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'missing' : `cannot read (${code ?? (err as Error).message})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not valid JSON (${(err as Error).message}); the file is ${text.length} bytes, perhaps truncated` };
  }
  try {
    return { ok: true, value: parse(json) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/** Makes the rename itself durable (the directory entry), not only the file's bytes. */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
