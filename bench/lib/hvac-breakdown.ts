import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { SimDay } from '../../controller/src/cli/sim-day.ts';
import { localTime } from '../../controller/src/model/local-time.ts';

/**
 * Where a day's HVAC room-minutes go, per room and meeting, from the same power readings
 * the engine counts (a room's HVAC runs while any of its units is on). Each run of a
 * room's HVAC is cut at its meetings' booked start and end, and every piece is named:
 *   in       inside a booked meeting: the same for every pre-start rule (P6);
 *   before   a run that leads into a meeting's start: its pre-conditioning (P5);
 *   after    a run that goes on from a meeting's end: the close after it (P7: vacancy, then
 *            setback or off);
 *   between  a run from one meeting's end right into the next one's start (held through a gap);
 *   other    neither (e.g. a run that stopped before its meeting began).
 * "Outside meetings" is everything but `in`: the part a pre-start rule decides.
 */
export type Part = 'before' | 'in' | 'after' | 'between' | 'other';
export const PARTS: readonly Part[] = ['before', 'in', 'after', 'between', 'other'];

export interface MeetingMinutes {
  meeting: string;
  room: string;
  /** Local HH:MM of the booked start. */
  start: string;
  minutes: Record<Part, number>;
  /** Local HH:MM the run leading into it began (its pre-conditioning start), if one did. */
  hvacFrom?: string;
  /** Minutes it was in band before its readiness check (T-15), if it was then (set by the bench). */
  inBandBeforeReady?: number;
  /** In band at its readiness check (set by the bench). */
  inBandAtT15?: boolean;
  /** The optimal-start decision that started it (engine log: 'HVAC pre-conditioning started (P5)'). */
  reason?: string;
}

export interface Breakdown {
  total: Record<Part, number>;
  meetings: MeetingMinutes[];
}

type Run = { from: number; to: number };

export class HvacBreakdown {
  private runs = new Map<string, Run[]>();
  private onSince = new Map<string, number>();
  private unitsOn = new Map<string, Set<string>>();
  private reasons = new Map<string, string>();
  private lines = '';

  /**
   * A logger for the service that keeps only the optimal-start decisions (meeting id and
   * reason: no title or organizer is ever logged, P15), so the breakdown can say why a run began.
   */
  readonly logger: Logger = pino(
    { level: 'info', base: undefined },
    new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.lines += chunk.toString();
        let nl: number;
        while ((nl = this.lines.indexOf('\n')) >= 0) {
          const line = this.lines.slice(0, nl);
          this.lines = this.lines.slice(nl + 1);
          if (!line.includes('HVAC pre-conditioning started')) continue;
          const e = JSON.parse(line) as { meeting?: string; reason?: string };
          if (e.meeting && e.reason) this.reasons.set(e.meeting, e.reason);
        }
        done();
      },
    }),
  );

  /** Follows the HVAC power readings of the day's rooms (call before the day is played). */
  attach(sim: SimDay): void {
    sim.service.bus.on('point', (e) => {
      const device = sim.site.rooms.find((r) => r.id === e.room)?.devices.find((d) => d.name === e.device);
      if (device?.profile.kind !== 'hvac' || e.point !== `${device.name}.power` || e.quality !== 'good') return;
      const on = this.unitsOn.get(e.room) ?? new Set<string>();
      this.unitsOn.set(e.room, on);
      if (e.value === true) on.add(device.name);
      else on.delete(device.name);
      const since = this.onSince.get(e.room);
      if (on.size > 0 && since === undefined) this.onSince.set(e.room, e.ts);
      if (on.size === 0 && since !== undefined) {
        this.push(e.room, { from: since, to: e.ts });
        this.onSince.delete(e.room);
      }
    });
  }

  /** The minutes so far, runs still going counted up to `now` (and left open). */
  breakdown(sim: SimDay, now: number): Breakdown {
    const tz = sim.site.config.site.timezone;
    const byId = new Map<string, MeetingMinutes>();
    const rows: MeetingMinutes[] = [];
    for (const m of [...sim.meetings].sort((a, b) => a.room.localeCompare(b.room) || a.start - b.start)) {
      const row: MeetingMinutes = { meeting: m.id, room: m.room, start: localTime(m.start, tz), minutes: { before: 0, in: 0, after: 0, between: 0, other: 0 } };
      const reason = this.reasons.get(m.id);
      if (reason) row.reason = reason;
      byId.set(m.id, row);
      rows.push(row);
    }
    const total: Record<Part, number> = { before: 0, in: 0, after: 0, between: 0, other: 0 };
    const rooms = new Set([...this.runs.keys(), ...this.onSince.keys()]);
    for (const room of rooms) {
      const runs = [...(this.runs.get(room) ?? [])];
      const open = this.onSince.get(room);
      if (open !== undefined) runs.push({ from: open, to: now });
      const meetings = sim.meetings.filter((m) => m.room === room).sort((a, b) => a.start - b.start);
      const add = (part: Part, meeting: string | undefined, ms: number) => {
        const min = ms / 60_000;
        total[part] += min;
        if (meeting) byId.get(meeting)!.minutes[part] += min;
      };
      for (const run of runs) {
        // Cut the run at every meeting boundary inside it; each piece lies wholly inside or outside meetings.
        const cuts = [run.from, ...meetings.flatMap((m) => [m.start, m.end]).filter((t) => t > run.from && t < run.to), run.to].sort((a, b) => a - b);
        for (let i = 0; i + 1 < cuts.length; i++) {
          const [x, y] = [cuts[i]!, cuts[i + 1]!];
          if (y <= x) continue;
          const inside = meetings.find((m) => m.start <= x && m.end >= y);
          if (inside) {
            add('in', inside.id, y - x);
            continue;
          }
          const prev = meetings.filter((m) => m.end === x).at(-1);
          const next = meetings.find((m) => m.start === y);
          if (prev && next) add('between', prev.id, y - x);
          else if (prev) add('after', prev.id, y - x);
          else if (next) {
            add('before', next.id, y - x);
            // Not after a meeting, so the piece begins where its run began: the pre-conditioning start.
            byId.get(next.id)!.hvacFrom = localTime(x, tz);
          } else add('other', meetings.find((m) => m.start >= y)?.id, y - x);
        }
      }
    }
    return { total, meetings: rows };
  }

  private push(room: string, run: Run): void {
    const list = this.runs.get(room) ?? [];
    list.push(run);
    this.runs.set(room, list);
  }
}
