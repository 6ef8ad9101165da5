import { loadConfigFile } from '../config/load.ts';
import { securityFindings } from '../config/security-checks.ts';

/**
 * `roomctl validate FILE`: every problem as `path: message`, exit 1; or a one-line
 * summary and exit 0. Profile problems count too: a building must not run on a
 * device file that was silently skipped — a broken profile a device names, or one
 * that lacks a point the engine needs for its kind. What works with less (no `mode`
 * on an FCU, a broken profile no device here names) is a `warning:` line.
 */
export function validateCommand(file: string, out: (line: string) => void = console.log, err: (line: string) => void = console.error): number {
  const result = loadConfigFile(file);
  const warn = () => result.warnings.forEach((w) => err(`warning: ${w}`));
  if (result.errors.length > 0) {
    for (const e of result.errors) err(e);
    warn();
    err(`${file}: ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}`);
    return 1;
  }
  const site = result.site!;
  warn();
  // Security (issue 11): a broker open to the network is an error, a clear-text API a warning.
  const security = securityFindings(site);
  for (const w of security.warnings) err(`warning: ${w}`);
  if (security.errors.length > 0) {
    for (const e of security.errors) err(e);
    err(`${file}: ${security.errors.length} problem${security.errors.length === 1 ? '' : 's'}`);
    return 1;
  }
  const devices = site.rooms.reduce((n, r) => n + r.devices.length, 0);
  const points = site.rooms.reduce((n, r) => n + r.devices.reduce((m, d) => m + d.points.length, 0), 0);
  const scenes = site.rooms.reduce((n, r) => n + Object.keys(r.scenes).length, 0);
  const mqtt = site.config.mqtt.url ? `MQTT ${site.config.mqtt.url}` : 'embedded MQTT broker';
  out(`${file}: OK — site ${site.config.site.id}, ${plural(site.rooms.length, 'room')}, ${plural(devices, 'device')}, ${plural(points, 'point')}, ${plural(scenes, 'scene')}; ${mqtt}`);
  return 0;
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
