import type { Site } from '../config/load.ts';
import type { createLogger } from '../log.ts';
import type { AlertLine, MeetingLine } from './day-recorder.ts';
import { SimDay, type FaultPlan } from './sim-day.ts';

/**
 * One simulated day played and reported (sim-day.ts underneath): what `roomctl sim run`
 * prints for a day, what each day of a replay (sim-replay.ts) is made of, and what the
 * tests and scripts/sim-days.ts read. P15: meetings by id only.
 */
export interface SimRunReport {
  site: string;
  day: string;
  /** Local HH:MM the day was played from (the building and the controller both). */
  start: string;
  seed: number;
  faults: { room: string; kind: string; clear: boolean; at: string; error?: string }[];
  meetings: MeetingLine[];
  rooms: { room: string; hvacMinutes: number; phase: string; endOfDay: { leftOn: string[]; failed: string[]; skipped?: string } | null; alerts: AlertLine[] }[];
  rejectedBookings: { id: string; why: string }[];
  summary: {
    meetings: number;
    readyAtReadyCheck: number;
    readyAtStart: number;
    temperatureInBandAtReadyCheck: number;
    late: number;
    noShows: number;
    alertsRaised: number;
    alertsActiveAtEnd: number;
    hvacMinutes: number;
    sweepExceptions: number;
    virtualHours: number;
    realSeconds: number;
    /** Virtual time played per unit of wall time (virtual hours / real hours). */
    speedup: number;
  };
}

/**
 * Plays the day and builds the report (also used by tests and the bench). The controller
 * and the building start together, as on site (SimDayOptions.startTogether), unless
 * `startTogether: false` asks for the engine to start from a settled building.
 */
export async function playDay(
  site: Site,
  options: { day?: string; start?: string; seed?: number; faults?: FaultPlan[]; logger?: ReturnType<typeof createLogger>; pollMs?: number; engine?: Parameters<typeof SimDay.open>[0]['engine']; startTogether?: boolean; dataDir?: string },
): Promise<SimRunReport> {
  const realStart = performance.now();
  const day = await SimDay.open({ site, day: options.day, start: options.start ?? 'overnight', seed: options.seed, faults: options.faults, logger: options.logger, pollMs: options.pollMs, engine: options.engine, startTogether: options.startTogether ?? true, dataDir: options.dataDir, brokerNoDelay: true });
  const virtualStart = day.clock.now();
  try {
    await day.advanceTo(day.endOfDay());
    return report(day, virtualStart, realStart, options.seed);
  } finally {
    await day.close();
  }
}

export function report(day: SimDay, virtualStart: number, realStart: number, seed?: number): SimRunReport {
  const r = day.recorder;
  const engine = day.service.engine;
  const meetings = day.meetings.map((m) => r.meetingLine(m));
  const verdicts = meetings.flatMap((m) => (m.verdict ? [m.verdict] : []));
  const rooms = day.site.rooms.map((room) => {
    const sweep = engine.routines.sweeps.get(room.id);
    return {
      room: room.id,
      hvacMinutes: engine.hvacMinutes(room.id),
      phase: engine.phase(room.id),
      endOfDay: sweep ? { leftOn: sweep.leftOn, failed: sweep.failed, ...(sweep.skipped ? { skipped: sweep.skipped } : {}) } : null,
      alerts: r.alerts.filter((a) => a.room === room.id && a.meetingId === undefined).map((a) => r.alertLine(a)),
    };
  });
  const sim = day.site.config.simulation!;
  return {
    site: day.site.config.site.id,
    day: sim.day!,
    start: sim.start,
    seed: seed ?? sim.seed,
    faults: r.faults,
    meetings,
    rooms,
    rejectedBookings: r.rejections,
    summary: {
      meetings: meetings.length,
      readyAtReadyCheck: verdicts.filter((v) => v.readyAtReadyCheck).length,
      readyAtStart: verdicts.filter((v) => v.readyAtStart).length,
      temperatureInBandAtReadyCheck: meetings.filter((m) => m.temperatureInBandAtReadyCheck).length,
      late: verdicts.filter((v) => v.minutesLate > 0).length,
      noShows: verdicts.filter((v) => v.noShow).length,
      alertsRaised: r.alerts.filter((a) => a.state === 'raised').length,
      alertsActiveAtEnd: engine.activeAlerts().length,
      hvacMinutes: engine.hvacMinutes(),
      sweepExceptions: rooms.filter((x) => x.endOfDay && (x.endOfDay.leftOn.length > 0 || x.endOfDay.failed.length > 0)).length,
      virtualHours: Math.round(((day.clock.now() - virtualStart) / 3600_000) * 100) / 100,
      realSeconds: Math.round((performance.now() - realStart) / 100) / 10,
      speedup: Math.round((day.clock.now() - virtualStart) / Math.max(1, performance.now() - realStart)),
    },
  };
}

