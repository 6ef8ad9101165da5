import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { loadConfigFile, type Site } from '../config/load.ts';
import { createLogger } from '../log.ts';
import { FAULT_KINDS } from '../../../devices/sim/faults.ts';
import type { FaultPlan } from './sim-day.ts';
import { checkDay } from './demo-day.ts';
import { playDay, type SimRunReport } from './sim-play.ts';
import { replayCommand } from './sim-replay-command.ts';

/**
 * `roomctl sim run --config F [--day YYYY-MM-DD] [--seed S] [--faults FILE] [--json]`:
 * plays one simulated day of a building as fast as the machine allows (sim-day.ts) and
 * reports each meeting's verdict, its failing checks, its alerts and HVAC minutes, and
 * the day's summary. This is how anyone checks roomctl against a building of their own.
 * P15: the report names meetings by id only; titles and organizers never appear.
 */
export interface SimRunOptions {
  config: string;
  day?: string;
  /** HH:MM; default SimDay's 'overnight' start. */
  start?: string;
  seed?: number;
  faults?: string;
  json?: boolean;
  /** Consecutive days to play (what-if replay, sim-replay.ts); default 1. */
  days?: number;
  /** The first day of a replay (as --day). */
  from?: string;
  /** A what-if policy file (what-if-policy.ts): the same days again under it, compared. */
  policy?: string;
  /** Internal: play only this series and print it as JSON (the what-if series runs in a child process). */
  series?: 'as-configured' | 'what-if';
  out?: NodeJS.WritableStream;
}

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time as HH:MM');
const faultsSchema = z.array(z.strictObject({ room: z.string().min(1), kind: z.string().min(1), at: hhmm, clear_at: hhmm.optional() }));


export async function simRunCommand(opts: SimRunOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const load = loadConfigFile(opts.config);
  if (!load.site) {
    for (const e of load.errors) console.error(e);
    console.error(`${opts.config}: cannot run (${load.errors.length} problem${load.errors.length === 1 ? '' : 's'}); run \`roomctl validate ${opts.config}\``);
    return 1;
  }
  for (const e of load.errors) console.error(`config: ${e}`);
  let faults: FaultPlan[] = [];
  if (opts.faults) {
    const read = readFaults(opts.faults, load.site);
    if (read.errors.length) {
      for (const e of read.errors) console.error(e);
      return 1;
    }
    faults = read.faults;
  }
  const badDay = opts.day === undefined ? undefined : checkDay(opts.day);
  if (badDay) {
    console.error(`--day: ${badDay}`);
    return 2;
  }
  const badFrom = opts.from === undefined ? undefined : checkDay(opts.from);
  if (badFrom) {
    console.error(`--from: ${badFrom}`);
    return 2;
  }
  const logger = createLogger(process.env.ROOMCTL_LOG_LEVEL || 'warn');
  if (opts.start !== undefined && !hhmm.safeParse(opts.start).success) {
    console.error(`--start: expected HH:MM, got "${opts.start}"`);
    return 2;
  }
  if ((opts.days ?? 1) > 1 || opts.policy) return replayCommand({ ...opts, site: load.site, faultPlan: faults, logger, out });
  const report = await playDay(load.site, { day: opts.day ?? opts.from, start: opts.start, seed: opts.seed, faults, logger });
  out.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : readable(report));
  return 0;
}

/** The faults file: a YAML or JSON list of {room, kind, at, clear_at?}; every problem as `faults[i].field: message`. */
export function readFaults(file: string, site: Site): { faults: FaultPlan[]; errors: string[] } {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    return { faults: [], errors: [`${file}: ${(err as Error).message.split('\n')[0]}`] };
  }
  const parsed = faultsSchema.safeParse(raw ?? []);
  if (!parsed.success) return { faults: [], errors: parsed.error.issues.map((i) => `${file}: faults${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`) };
  const errors: string[] = [];
  const rooms = new Set(site.rooms.map((r) => r.id));
  parsed.data.forEach((f, i) => {
    if (!rooms.has(f.room)) errors.push(`${file}: faults[${i}].room: no room "${f.room}" (known: ${[...rooms].join(', ')})`);
    const kind = f.kind.split(':')[0]!;
    if (!Object.hasOwn(FAULT_KINDS, kind)) errors.push(`${file}: faults[${i}].kind: unknown fault "${kind}" (known: ${Object.keys(FAULT_KINDS).join(', ')})`);
    if (f.clear_at !== undefined && f.clear_at <= f.at) errors.push(`${file}: faults[${i}].clear_at: ${f.clear_at} is not after at ${f.at}`);
  });
  return { faults: parsed.data, errors };
}

function readable(r: SimRunReport): string {
  const lines = [`${r.site} · ${r.day} from ${r.start} · seed ${r.seed}`];
  for (const m of r.meetings) {
    const v = m.verdict;
    const state = !v ? 'no verdict' : v.noShow ? 'no-show' : `T-15 ${v.readyAtReadyCheck ? 'ready' : 'NOT ready'}, start ${v.readyAtStart ? 'ready' : 'NOT ready'}${v.minutesLate > 0 ? `, booked ${v.minutesLate} min late` : ''}`;
    const failing = v && v.failingChecks.length ? ` failing: ${v.failingChecks.join(', ')}` : '';
    const alerts = m.alerts.filter((a) => a.state === 'raised').map((a) => a.check);
    lines.push(`${m.start.slice(0, 5)} ${m.room.padEnd(8)} ${m.id.padEnd(20)} ${state}${failing}${alerts.length ? `; alerts: ${alerts.join(', ')}` : ''}; HVAC ${m.hvacMinutes ?? 0} min`);
  }
  for (const room of r.rooms) if (room.endOfDay && (room.endOfDay.leftOn.length || room.endOfDay.failed.length)) lines.push(`end of day ${room.room}: left on ${room.endOfDay.leftOn.join(', ') || '-'}${room.endOfDay.failed.length ? `; still failing ${room.endOfDay.failed.join(', ')}` : ''}`);
  const s = r.summary;
  lines.push(
    `${s.meetings} meetings: ${s.readyAtReadyCheck} ready at T-15, ${s.readyAtStart} at the start, ${s.temperatureInBandAtReadyCheck} in band at T-15, ${s.late} booked late, ${s.noShows} no-shows; ${s.alertsRaised} alerts; HVAC ${s.hvacMinutes} min; ${s.virtualHours} h played in ${s.realSeconds} s (${s.speedup}× real time)`,
  );
  return `${lines.join('\n')}\n`;
}
