import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Site } from '../config/load.ts';
import type { HvacStrategy } from '../engine/hvac/hvac-start.ts';
import type { Logger } from '../log.ts';
import type { FaultPlan } from './sim-day.ts';
import { playDay, type SimRunReport } from './sim-play.ts';

/**
 * Consecutive simulated days of one building (`roomctl sim run --days N`), the way a
 * controller lives through them: what the optimal-start learner learned on one day (the
 * rooms' heating and cooling rates, the lead allowances: thermal.json) is what it starts
 * the next day with. Everything else starts afresh each day, as the day's bookings are
 * the config's `simulation.meetings`, played again on every day; the weather follows the
 * date (the season and the simulator's day-to-day noise).
 */
export interface SeriesOptions {
  days: readonly string[];
  seed?: number;
  start?: string;
  faults?: FaultPlan[];
  hvac?: HvacStrategy;
  logger?: Logger;
  /** Called as each day has been played (progress for a long replay). */
  onDay?: (report: SimRunReport, index: number) => void;
}

/** One day of a series, as the comparison table shows it. */
export interface DayFigures {
  day: string;
  meetings: number;
  readyAtReadyCheck: number;
  readyAtStart: number;
  temperatureInBandAtReadyCheck: number;
  alertsRaised: number;
  hvacMinutes: number;
  realSeconds: number;
  /** Rooms the optimal-start learner knew from the days before when this day began (0 on the first). */
  learnedRoomsAtStart: number;
}

export type Totals = Omit<DayFigures, 'day' | 'learnedRoomsAtStart'> & { days: number };

export interface Series {
  name: string;
  hvac: string;
  days: DayFigures[];
  total: Totals;
  reports: SimRunReport[];
}

export async function playSeries(name: string, site: Site, options: SeriesOptions): Promise<Series> {
  const history = mkdtempSync(join(tmpdir(), 'roomctl-replay-'));
  const learned = join(history, 'thermal.json');
  const reports: SimRunReport[] = [];
  const learnedRooms: number[] = [];
  try {
    for (const [i, day] of options.days.entries()) {
      const dataDir = mkdtempSync(join(tmpdir(), 'roomctl-replay-day-'));
      try {
        learnedRooms.push(roomsIn(learned));
        if (existsSync(learned)) copyFileSync(learned, join(dataDir, 'thermal.json'));
        const report = await playDay(site, { day, start: options.start, seed: options.seed, faults: options.faults, logger: options.logger, dataDir, ...(options.hvac ? { engine: { hvac: options.hvac } } : {}) });
        if (existsSync(join(dataDir, 'thermal.json'))) copyFileSync(join(dataDir, 'thermal.json'), learned);
        reports.push(report);
        options.onDay?.(report, i);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(history, { recursive: true, force: true });
  }
  const days = reports.map((r, i) => ({ ...figures(r), learnedRoomsAtStart: learnedRooms[i] ?? 0 }));
  return { name, hvac: hvacText(options.hvac), days, total: totals(days), reports };
}

/** Rooms in a thermal history file (engine/hvac/thermal-file.ts), 0 without one. */
function roomsIn(file: string): number {
  if (!existsSync(file)) return 0;
  const json = JSON.parse(readFileSync(file, 'utf8')) as { rooms?: Record<string, unknown> };
  return Object.keys(json.rooms ?? {}).length;
}

export function figures(r: SimRunReport): Omit<DayFigures, 'learnedRoomsAtStart'> {
  const s = r.summary;
  return {
    day: r.day,
    meetings: s.meetings,
    readyAtReadyCheck: s.readyAtReadyCheck,
    readyAtStart: s.readyAtStart,
    temperatureInBandAtReadyCheck: s.temperatureInBandAtReadyCheck,
    alertsRaised: s.alertsRaised,
    hvacMinutes: s.hvacMinutes,
    realSeconds: s.realSeconds,
  };
}

export function totals(days: readonly DayFigures[]): Totals {
  const sum = (k: keyof Omit<DayFigures, 'day' | 'learnedRoomsAtStart'>) => days.reduce((n, d) => n + d[k], 0);
  return {
    days: days.length,
    meetings: sum('meetings'),
    readyAtReadyCheck: sum('readyAtReadyCheck'),
    readyAtStart: sum('readyAtStart'),
    temperatureInBandAtReadyCheck: sum('temperatureInBandAtReadyCheck'),
    alertsRaised: sum('alertsRaised'),
    hvacMinutes: sum('hvacMinutes'),
    realSeconds: Math.round(sum('realSeconds') * 10) / 10,
  };
}

export function hvacText(hvac: HvacStrategy | undefined): string {
  return !hvac || hvac.kind === 'optimal' ? 'optimal start' : `fixed ${hvac.minutesBeforeStart} min pre-start`;
}

/** `n` days from `from` (YYYY-MM-DD), in order. */
export function consecutiveDays(from: string, n: number): string[] {
  const [y, m, d] = from.split('-').map(Number) as [number, number, number];
  return Array.from({ length: n }, (_, i) => new Date(Date.UTC(y, m - 1, d + i)).toISOString().slice(0, 10));
}
