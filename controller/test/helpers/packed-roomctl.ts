import { spawn, type SpawnOptions } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * roomctl as a site installs it: `npm pack` of this checkout, then `npm install` of that
 * tarball somewhere else. The deploy tests run the installed copy, never the repository's
 * files, so a file missing from package.json's `files` or a dependency resolved from the
 * checkout's node_modules shows up as a failure there.
 */
export const repoRoot = resolve(import.meta.dirname, '../../..');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and collects its output. */
export function run(command: string, args: string[], options: SpawnOptions = {}): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** `npm pack` of the checkout into `dir`; returns the tarball's path. */
export async function packRoomctl(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: repoRoot });
  if (packed.code !== 0) throw new Error(`npm pack failed (${packed.code}):\n${packed.stderr}`);
  const [info] = JSON.parse(packed.stdout) as { filename: string }[];
  return join(dir, info!.filename);
}

/** The paths inside a tarball, as `tar` lists them (without npm's `package/` prefix). */
export async function tarballFiles(tarball: string): Promise<string[]> {
  const listed = await run('tar', ['-tzf', tarball]);
  if (listed.code !== 0) throw new Error(`tar -tzf ${tarball} failed:\n${listed.stderr}`);
  return listed.stdout
    .split('\n')
    .filter(Boolean)
    .map((p) => p.replace(/^package\//, ''));
}

/** The flags the deploy tests install with: npm's cache is warm, nothing else is asked. */
export const INSTALL_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund'];

/**
 * `npm install …args` in `cwd`, timed; throws with npm's output when it fails. The "./"
 * in front of a relative tarball path matters: without it npm reads a GitHub shorthand.
 */
export async function npmInstall(cwd: string, args: string[]): Promise<{ seconds: number }> {
  const started = Date.now();
  const installed = await run('npm', ['install', ...args, ...INSTALL_FLAGS], { cwd });
  if (installed.code !== 0) throw new Error(`npm install ${args.join(' ')} failed (${installed.code}):\n${installed.stderr}`);
  return { seconds: (Date.now() - started) / 1000 };
}
