import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Site } from '../config/load.ts';

/**
 * Where a site's data lives: the schedule, readiness records, alerts, API tokens, the
 * learned thermal rates and the recorder's spool. Never the current directory of a real
 * site — starting roomctl from another folder must not look like a fresh controller with
 * no meetings. In order:
 *   1. `--data-dir DIR`;
 *   2. `data_dir:` in the config, relative to the config file;
 *   3. `$XDG_STATE_HOME/roomctl/sites/<site id>` (default `~/.local/state/…`, the XDG
 *      place for state that outlives a restart); the demo uses `…/roomctl/demo/<site id>`
 *      so it never touches a real site's folder.
 */
export function stateHome(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  return xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'state');
}

export function resolveDataDir(o: { flag?: string; site: Site; configFile?: string; demo?: boolean; env?: NodeJS.ProcessEnv }): string {
  if (o.flag) return resolve(o.flag);
  const configured = o.site.config.data_dir;
  if (configured) return resolve(o.configFile ? dirname(resolve(o.configFile)) : process.cwd(), configured);
  return join(stateHome(o.env), 'roomctl', o.demo ? 'demo' : 'sites', o.site.config.site.id);
}

/** The file that marks a folder as the demo's: the demo resets only folders it made. */
export const DEMO_MARKER = 'roomctl-demo';

/**
 * Makes sure the demo may reset `dir` (forget the last run's bookings, records, alerts):
 * it is new or empty, or already the demo's. A folder holding a real site's data is
 * refused with the reason, never emptied.
 */
export function claimDemoDir(dir: string): { ok: true } | { ok: false; why: string } {
  if (existsSync(dir) && !existsSync(join(dir, DEMO_MARKER))) {
    const files = readdirSync(dir);
    if (files.length > 0) return { ok: false, why: `${dir} holds data that is not the demo's (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}); the demo resets its data folder each run, so give it an empty or new --data-dir` };
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, DEMO_MARKER), 'This folder belongs to the roomctl demo (roomctl start --simulate); it is reset on every run.\n');
  return { ok: true };
}
