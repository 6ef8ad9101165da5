import { loadConfigFile, type ConfigLoad, type LoadedParts } from '../config/load.ts';
import { securityProblems, type SecurityProblem } from '../config/security-checks.ts';
import { crossChecks } from '../config/cross-checks.ts';
import { formatPath, formatProblem, type ConfigProblem } from '../config/issues.ts';

/** One problem of `roomctl validate --json`; `line` is the site file's (a profile file's problem has that file as its path). */
export interface ValidateProblem {
  path: string;
  message: string;
  line: number | null;
  severity: 'error' | 'warning';
}

export interface ValidateSummary {
  site: string;
  rooms: number;
  devices: number;
  points: number;
  scenes: number;
  /** The broker URL, or "embedded". */
  mqtt: string;
}

export interface ValidateReport {
  file: string;
  ok: boolean;
  problems: ValidateProblem[];
  /** The counts of the OK line; null when the file has errors. */
  summary: ValidateSummary | null;
}

export interface ValidateOptions {
  json?: boolean;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

/**
 * `roomctl validate FILE [--json]`: every problem as `path: message (line N)` and exit 1,
 * or a one-line summary and exit 0. One mistake is one problem: what a misspelt key or
 * an entry with problems of its own would make fail elsewhere is not reported again.
 * Beside the loader's checks run the cross-reference checks (config/cross-checks.ts) and
 * the security checks. Profile problems count too: a building must not run on a device
 * file that was silently skipped. What works with less (no `mode` on an FCU, a broken
 * profile no device here names, a clear-text API) is a `warning:` line.
 */
export function validateCommand(file: string, outOrOptions: ((line: string) => void) | ValidateOptions = {}, errArg?: (line: string) => void): number {
  const options = typeof outOrOptions === 'function' ? { out: outOrOptions, err: errArg } : outOrOptions;
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = options.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { text, ...report } = validateFile(file);
  if (options.json) {
    out(JSON.stringify(report, null, 2));
    return report.ok ? 0 : 1;
  }
  const errors = report.problems.filter((p) => p.severity === 'error');
  for (const e of text.errors) err(e);
  for (const w of text.warnings) err(`warning: ${w}`);
  if (!report.ok) {
    err(`${file}: ${plural(errors.length, 'problem')}`);
    return 1;
  }
  const s = report.summary!;
  const mqtt = s.mqtt === 'embedded' ? 'embedded MQTT broker' : `MQTT ${s.mqtt}`;
  out(`${file}: OK — site ${s.site}, ${plural(s.rooms, 'room')}, ${plural(s.devices, 'device')}, ${plural(s.points, 'point')}, ${plural(s.scenes, 'scene')}; ${mqtt}`);
  return 0;
}

/** The whole verdict on a file: the report `--json` prints, and the lines the text form prints. */
export function validateFile(file: string): ValidateReport & { text: { errors: string[]; warnings: string[] } } {
  const load = loadConfigFile(file);
  const located: ConfigProblem[] = [...load.problems, ...(load.parts ? crossChecks(load.parts) : [])];
  // File order reads best: an engineer fixes them top to bottom (a stable sort keeps the loader's order within a line).
  located.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const security = load.parts ? securityOf(load, load.parts) : [];
  const securityErrors = security.filter((p) => p.severity === 'error');
  const securityWarnings = security.filter((p) => p.severity === 'warning');
  const line = (p: { path: (string | number)[] }) => load.parts?.lineOf(p.path) ?? null;
  const problems: ValidateProblem[] = [
    ...load.unlocated.map((text) => fromText(text, 'error')),
    ...located.map((p) => ({ path: formatPath(p.path), message: p.message, line: p.line ?? null, severity: 'error' as const })),
    ...securityErrors.map((p) => ({ path: formatPath(p.path), message: p.message, line: line(p), severity: 'error' as const })),
    ...load.warnings.map((text) => fromText(text, 'warning')),
    ...securityWarnings.map((p) => ({ path: formatPath(p.path), message: p.message, line: line(p), severity: 'warning' as const })),
  ];
  const ok = !problems.some((p) => p.severity === 'error');
  // Security lines keep their historical form, without a line: they are about the site, not one spot in the file.
  const text = {
    errors: [...load.unlocated, ...located.map(formatProblem), ...securityErrors.map((p) => `${formatPath(p.path)}: ${p.message}`)],
    warnings: [...load.warnings, ...securityWarnings.map((p) => `${formatPath(p.path)}: ${p.message}`)],
  };
  return { file, ok, problems, summary: ok && load.site ? summaryOf(load) : null, text };
}

function securityOf(load: ConfigLoad, parts: LoadedParts): SecurityProblem[] {
  if (!parts.mqtt || !parts.api) return [];
  const rooms = parts.rooms.filter((r) => r.id !== undefined).map((r) => ({ id: r.id!, devices: r.devices.map((d) => d.device) }));
  return securityProblems({ mqtt: parts.mqtt, api: parts.api, rooms, written: parts.written });
}

function summaryOf(load: ConfigLoad): ValidateSummary {
  const site = load.site!;
  const devices = site.rooms.flatMap((r) => r.devices);
  return {
    site: site.config.site.id,
    rooms: site.rooms.length,
    devices: devices.length,
    points: devices.reduce((n, d) => n + d.points.length, 0),
    scenes: site.rooms.reduce((n, r) => n + Object.keys(r.scenes).length, 0),
    mqtt: site.config.mqtt.url ?? 'embedded',
  };
}

/** A problem known only as its printed line (a profile file's, a YAML syntax error): `path: message`. */
function fromText(text: string, severity: ValidateProblem['severity']): ValidateProblem {
  const yaml = /^YAML(?: line (\d+))?/.exec(text);
  if (yaml) return { path: '(top level)', message: text, line: yaml[1] ? Number(yaml[1]) : null, severity };
  const cut = text.indexOf(': ');
  return cut < 0 ? { path: '(top level)', message: text, line: null, severity } : { path: text.slice(0, cut), message: text.slice(cut + 2), line: null, severity };
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
