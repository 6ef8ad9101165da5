import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Site } from '../config/load.ts';
import type { Logger } from '../log.ts';
import { simulationOf } from '../../../devices/sim/meetings.ts';
import type { FaultPlan } from './sim-day.ts';
import { consecutiveDays, hvacText, playSeries, type DayFigures, type Series, type Totals } from './sim-replay.ts';
import { readWhatIf } from './what-if-policy.ts';

/**
 * `roomctl sim run --days N [--from DATE] [--policy FILE]`: a what-if replay. The days
 * are played one after another with learning carried over (sim-replay.ts); with a policy
 * file the same days are played again under it (what-if-policy.ts) — in a second process
 * when the machine has a second core, so a month of both takes the time of one — and
 * the table and the JSON compare readiness and HVAC room-minutes per day and in total.
 */
export interface ReplayComparison {
  site: string;
  from: string;
  days: number;
  seed: number;
  series: Series[];
  /** what-if minus as-configured, in total (only with --policy). */
  difference?: { readyAtReadyCheck: number; temperatureInBandAtReadyCheck: number; hvacMinutes: number; hvacMinutesRatio: number };
  realSeconds: number;
}

/** What `sim run` hands over for a replay (its options, checked, with the config loaded). */
export interface ReplayOptions {
  config: string;
  site: Site;
  day?: string;
  from?: string;
  days?: number;
  start?: string;
  seed?: number;
  /** The faults file's path (passed on to the what-if process) and its plan. */
  faults?: string;
  faultPlan: FaultPlan[];
  policy?: string;
  series?: 'as-configured' | 'what-if';
  json?: boolean;
  logger: Logger;
  out: NodeJS.WritableStream;
}

const AS_CONFIGURED = 'as configured';
const ROOMCTL = fileURLToPath(new URL('../../../bin/roomctl.js', import.meta.url));

export async function replayCommand(opts: ReplayOptions): Promise<number> {
  const days = opts.days ?? 1;
  if (!Number.isInteger(days) || days < 1 || days > 366) {
    console.error(`--days: expected a whole number of days from 1 to 366, got ${opts.days}`);
    return 2;
  }
  const sim = simulationOf(opts.site);
  const from = opts.from ?? opts.day ?? sim.day ?? new Intl.DateTimeFormat('en-CA', { timeZone: opts.site.config.site.timezone }).format(Date.now());
  const list = consecutiveDays(from, days);
  const seed = opts.seed ?? sim.seed;
  const read = opts.policy ? readWhatIf(opts.policy, opts.config, opts.site) : undefined;
  if (read?.errors.length) {
    for (const e of read.errors) console.error(e);
    return 1;
  }
  const whatIf = read?.whatIf;
  const common = { days: list, seed: opts.seed, start: opts.start, faults: opts.faultPlan, logger: opts.logger };
  const progress = (name: string) => (r: { day: string; summary: { meetings: number; readyAtReadyCheck: number; hvacMinutes: number; realSeconds: number; speedup: number } }, i: number) =>
    process.stderr.write(`[${name}] day ${i + 1}/${days} ${r.day}: ${r.summary.readyAtReadyCheck}/${r.summary.meetings} ready at T-15, HVAC ${r.summary.hvacMinutes} room-min; played in ${r.summary.realSeconds} s (${r.summary.speedup}×)\n`);

  // The child of a parallel replay: one series, as JSON, nothing else on stdout.
  if (opts.series) {
    const series = opts.series === 'what-if' && whatIf ? await playSeries(whatIf.name, whatIf.site, { ...common, hvac: whatIf.hvac, onDay: progress(whatIf.name) }) : await playSeries(AS_CONFIGURED, opts.site, { ...common, onDay: progress(AS_CONFIGURED) });
    opts.out.write(`${JSON.stringify(series)}\n`);
    return 0;
  }

  const started = performance.now();
  const series: Series[] = [];
  if (!whatIf) series.push(await playSeries(AS_CONFIGURED, opts.site, { ...common, onDay: progress(AS_CONFIGURED) }));
  else if (availableParallelism() > 1) {
    const [mine, theirs] = await Promise.all([playSeries(AS_CONFIGURED, opts.site, { ...common, onDay: progress(AS_CONFIGURED) }), whatIfInChild(opts, from, days)]);
    series.push(mine, theirs);
  } else {
    series.push(await playSeries(AS_CONFIGURED, opts.site, { ...common, onDay: progress(AS_CONFIGURED) }));
    series.push(await playSeries(whatIf.name, whatIf.site, { ...common, hvac: whatIf.hvac, onDay: progress(whatIf.name) }));
  }
  const result: ReplayComparison = { site: opts.site.config.site.id, from, days, seed, series, realSeconds: Math.round((performance.now() - started) / 100) / 10 };
  if (series.length === 2) {
    const [a, b] = [series[0]!.total, series[1]!.total];
    result.difference = {
      readyAtReadyCheck: b.readyAtReadyCheck - a.readyAtReadyCheck,
      temperatureInBandAtReadyCheck: b.temperatureInBandAtReadyCheck - a.temperatureInBandAtReadyCheck,
      hvacMinutes: b.hvacMinutes - a.hvacMinutes,
      hvacMinutesRatio: Math.round((b.hvacMinutes / Math.max(1, a.hvacMinutes)) * 1000) / 1000,
    };
  }
  opts.out.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : table(result, whatIf?.file));
  return 0;
}

/** The what-if series in a second roomctl process (its own event loop, the other core). */
function whatIfInChild(opts: ReplayOptions, from: string, days: number): Promise<Series> {
  const args = [ROOMCTL, 'sim', 'run', '-c', opts.config, '--from', from, '--days', String(days), '--policy', opts.policy!, '--series', 'what-if'];
  if (opts.seed !== undefined) args.push('--seed', String(opts.seed));
  if (opts.start) args.push('--start', opts.start);
  if (opts.faults) args.push('--faults', opts.faults);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`the what-if replay (a second roomctl process) exited with ${code}`));
      try {
        resolve(JSON.parse(out) as Series);
      } catch (err) {
        reject(new Error(`the what-if replay printed no series: ${(err as Error).message}`));
      }
    });
  });
}

function table(r: ReplayComparison, file?: string): string {
  const two = r.series.length === 2;
  const [a, b] = r.series;
  const lines = [`${r.site} · ${r.days} day${r.days === 1 ? '' : 's'} from ${r.from} · seed ${r.seed} · learning carried from day to day`];
  lines.push(two ? `${AS_CONFIGURED}: ${a!.hvac}  |  what-if ${b!.name} (${file}): ${b!.hvac}` : `${AS_CONFIGURED}: ${a!.hvac}`);
  lines.push('');
  const both = (f: (d: DayFigures | Totals) => string, x: DayFigures | Totals, y?: DayFigures | Totals) => (y ? `${f(x)} | ${f(y)}` : f(x));
  const row = (label: string, x: DayFigures | Totals, y?: DayFigures | Totals) => {
    const hvac = y ? `${x.hvacMinutes} | ${y.hvacMinutes} ${percent(y.hvacMinutes, x.hvacMinutes)}` : String(x.hvacMinutes);
    return [label.padEnd(11), String(x.meetings).padStart(8), both((d) => String(d.readyAtReadyCheck), x, y).padStart(14), both((d) => String(d.temperatureInBandAtReadyCheck), x, y).padStart(16), both((d) => String(d.readyAtStart), x, y).padStart(14), hvac.padStart(22)].join('  ');
  };
  lines.push(['day'.padEnd(11), 'meetings'.padStart(8), 'ready at T-15'.padStart(14), 'in band at T-15'.padStart(16), 'ready at start'.padStart(14), 'HVAC room-minutes'.padStart(22)].join('  '));
  a!.days.forEach((d, i) => lines.push(row(d.day, d, b?.days[i])));
  lines.push(row('total', a!.total, b?.total));
  lines.push('');
  lines.push(`played in ${r.realSeconds} s${two ? ' (both series at once, one per core, when the machine has two)' : ''}`);
  return `${lines.join('\n')}\n`;
}

const percent = (x: number, base: number) => (base > 0 ? `(${x >= base ? '+' : ''}${(((x - base) / base) * 100).toFixed(1)} %)` : '');
