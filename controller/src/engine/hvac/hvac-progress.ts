import type { Room } from '../../config/load.ts';
import { every, type Clock } from '../../model/clock.ts';
import { localTime } from '../../model/local-time.ts';
import type { Meeting } from '../../model/meetings.ts';
import type { AlertBook } from '../alerts/alert-book.ts';
import { roomTemperature } from '../intent/room-points.ts';
import type { StateReader } from '../readiness/checks.ts';

/**
 * P5, watched while it happens: a room whose HVAC is pre-conditioning for a meeting is
 * followed minute by minute, and when its temperature will not be in the band by the
 * readiness check (T-15) the engineers hear it then — with the predicted cause — not at
 * T-15: "will reach the band at 09:52, after T-15 (09:45)", or "HVAC on for 20 min but
 * the room is not cooling" (a unit that takes its setpoint and ignores it, a valve that
 * is stuck). The alert is the meeting's `temperature_in_band` condition, so it is one
 * alert with the T-15 check, and it clears when the temperature is in the band.
 *
 * The forecast is the room's own recent trend (a least-squares slope over the last
 * 15 minutes of readings), which needs no model and sees a fault the learned rates
 * cannot; it is asked only after 15 minutes of running, with 5 minutes of slack
 * beyond T-15, three minutes in a row, so an optimal start that aims close is not noise.
 */
export interface HvacProgressOptions {
  rooms: readonly Room[];
  state: StateReader;
  clock: Clock;
  alerts: AlertBook;
  /** The meeting whose pre-conditioning runs in a room, if any. */
  preparing: (room: string) => string | undefined;
  meeting: (id: string) => Meeting | undefined;
  band: (room: Room, ts: number) => [number, number];
  timeZone: string;
}

const MIN = 60_000;
const WINDOW_MS = 15 * MIN;
const SLACK_MS = 5 * MIN;
const CONFIRM_TICKS = 3;
/** Slower than this towards the band counts as "not moving" (0.6 K an hour). */
const STALLED_K_PER_MIN = 0.01;

interface Track {
  meetingId: string;
  since: number;
  readings: { ts: number; t: number }[];
  late: number;
}

export class HvacProgress {
  private tracks = new Map<string, Track>();
  private stopTick?: () => void;

  constructor(private o: HvacProgressOptions) {}

  start(): void {
    this.stopTick = every(this.o.clock, MIN, () => this.tick());
  }

  stop(): void {
    this.stopTick?.();
  }

  tick(): void {
    const now = this.o.clock.now();
    for (const room of this.o.rooms) {
      const id = this.o.preparing(room.id);
      const m = id ? this.o.meeting(id) : undefined;
      const readyAt = m ? m.start - room.policy.lead_minutes.ready * MIN : 0;
      if (!m || m.status !== 'scheduled' || now >= readyAt) {
        this.tracks.delete(room.id);
        continue;
      }
      let track = this.tracks.get(room.id);
      if (!track || track.meetingId !== m.id) this.tracks.set(room.id, (track = { meetingId: m.id, since: now, readings: [], late: 0 }));
      const t = roomTemperature(this.o.state, room);
      if (t === undefined) continue;
      track.readings.push({ ts: now, t });
      track.readings = track.readings.filter((r) => r.ts >= now - WINDOW_MS);
      this.judge(room, m, track, t, now, readyAt);
    }
  }

  private judge(room: Room, m: Meeting, track: Track, t: number, now: number, readyAt: number): void {
    const [lo, hi] = this.o.band(room, m.start);
    if (t >= lo && t <= hi) return void (track.late = 0);
    if (now - track.since < WINDOW_MS || track.readings.length < 10) return;
    const cooling = t > hi;
    const slope = slopePerMinute(track.readings);
    const towards = cooling ? -slope : slope;
    const remaining = cooling ? t - hi : lo - t;
    const eta = towards > STALLED_K_PER_MIN ? now + (remaining / towards) * MIN : Infinity;
    if (eta <= readyAt + SLACK_MS) return void (track.late = 0);
    if (++track.late < CONFIRM_TICKS) return;
    const running = Math.round((now - track.since) / MIN);
    const at = (ts: number) => localTime(ts, this.o.timeZone);
    const cause = Number.isFinite(eta)
      ? `at ${(towards * 60).toFixed(1)} K/h it will reach the band at ${at(eta)}, after T-15 (${at(readyAt)})`
      : `HVAC on for ${running} min but the room is not ${cooling ? 'cooling' : 'heating'} (${t} °C, ${slope >= 0 ? '+' : ''}${(slope * 60).toFixed(1)} K/h)`;
    this.o.alerts.raise({
      room: room.id,
      check: 'temperature_in_band',
      meetingId: m.id,
      observed: `${t} °C`,
      expected: `${lo}–${hi} °C by ${at(readyAt)}`,
      minutesToStart: (m.start - now) / MIN,
      message: `${room.id}: ${cause}; meeting ${m.id} at ${at(m.start)}`,
    });
  }
}

/** Least-squares slope of temperature over time, K per minute. */
function slopePerMinute(readings: readonly { ts: number; t: number }[]): number {
  const n = readings.length;
  const mx = readings.reduce((a, r) => a + r.ts, 0) / n;
  const my = readings.reduce((a, r) => a + r.t, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const r of readings) {
    sxy += (r.ts - mx) * (r.t - my);
    sxx += (r.ts - mx) ** 2;
  }
  return sxx === 0 ? 0 : (sxy / sxx) * MIN;
}
