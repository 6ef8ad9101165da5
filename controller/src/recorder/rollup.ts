import type { PointUpdate } from '../model/points.ts';
import { Measurement, RP, type RoutedRow } from './rows.ts';

/**
 * 5-minute means of every numeric point (booleans as 0/1), kept in the long retention
 * policy as `telemetry` with fields mean/min/max/covered_s, plus per-room energy
 * figures (device `_room`: lights_on, lights_on_vacant, hvac_on) with `minutes`.
 *
 * Why the recorder's own rollup and not an InfluxDB continuous query:
 *  - a CQ only looks at the interval that just ended, so points that reach InfluxDB
 *    late — replayed from the spool after an outage — would never be rolled up, and
 *    "nothing lost" would not hold for the 400-day data;
 *  - telemetry is recorded on change, so a CQ's mean() of the stored rows is biased
 *    towards busy moments; the recorder knows how long each value held and computes
 *    a time-weighted mean (and energy minutes) exactly;
 *  - continuous queries do not exist on the v1-compatible API of InfluxDB 2.x/3.x.
 * The rollup rows go through the same batches and spool as everything else.
 */
export const WINDOW_MS = 5 * 60_000;

/** A 0/1 or numeric signal integrated over fixed windows. */
class Integrator {
  private windowStart: number;
  private since: number;
  private value: number | null = null;
  private sum = 0;
  private covered = 0;
  private min = Infinity;
  private max = -Infinity;

  /** Set once by the owner: writes a finished window. */
  out: (window: number, sum: number, covered: number, min: number, max: number) => void = () => {};

  constructor(
    readonly tags: Record<string, string>,
    now: number,
  ) {
    this.windowStart = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    this.since = now;
  }

  /** Closes every window that ended by `t` (emitting its row) and sets the value from `t` on. */
  set(t: number, value: number | null, out: (window: number, sum: number, covered: number, min: number, max: number) => void): void {
    this.advance(t, out);
    this.value = value;
    if (value !== null) {
      this.min = Math.min(this.min, value);
      this.max = Math.max(this.max, value);
    }
  }

  advance(t: number, out: (window: number, sum: number, covered: number, min: number, max: number) => void): void {
    if (t < this.since) t = this.since; // late event: counts from now on
    while (t >= this.windowStart + WINDOW_MS) {
      const end = this.windowStart + WINDOW_MS;
      this.accumulate(end);
      if (this.covered > 0) out(this.windowStart, this.sum, this.covered, this.min, this.max);
      this.sum = 0;
      this.covered = 0;
      this.min = this.value ?? Infinity;
      this.max = this.value ?? -Infinity;
      // Nothing known: skip straight to the window holding t.
      this.windowStart = this.value === null ? Math.floor(t / WINDOW_MS) * WINDOW_MS : end;
      this.since = Math.max(this.since, this.windowStart);
    }
    this.accumulate(t);
  }

  /** advance() to `t` unless the integrator is there already (then advance() would change nothing). */
  catchUp(t: number): void {
    if (t > this.since) this.advance(t, this.out);
  }

  /** Emits the open window as it stands (at stop). */
  flush(t: number, out: (window: number, sum: number, covered: number, min: number, max: number) => void): void {
    this.advance(t, out);
    if (this.covered > 0) out(this.windowStart, this.sum, this.covered, this.min, this.max);
  }

  private accumulate(t: number): void {
    if (t <= this.since) return;
    if (this.value !== null) {
      this.sum += this.value * (t - this.since);
      this.covered += t - this.since;
    }
    this.since = t;
  }
}

export type DeviceKinds = Map<string, string>;

function* noWork(): Generator<number, void> {}

/** Room-level signals derived from points of known device kinds (profile `kind`). */
interface RoomSignals {
  lightsOn: Map<string, boolean>;
  present?: boolean;
  hvacOn: Map<string, boolean>;
  lights_on: Integrator;
  lights_on_vacant: Integrator;
  hvac_on: Integrator;
}

type Role = 'light' | 'presence' | 'hvac' | '';

export interface RollupSlot {
  role: Role;
  integrator?: Integrator;
}

export class Rollup {
  private series: Integrator[] = [];
  private rooms = new Map<string, RoomSignals>();
  /** Rows emitted so far (what a tick's slice has cost). */
  private emitted = 0;
  /**
   * The latest tick, from the moment it is asked for: its windows may still be being
   * closed in slices, so an update first closes its own series' (as the tick would
   * have done already, had it run in one go). A no-op for a series the tick has reached.
   */
  private tickedTo = Number.NEGATIVE_INFINITY;
  /** The 5-minute window the latest tick was in: only a tick in a later one has windows to close. */
  private tickWindow = Number.NEGATIVE_INFINITY;

  /** `kinds`: `room\0device` → profile kind (lighting, occupancy, hvac, …). */
  constructor(
    private site: string,
    private kinds: DeviceKinds,
    private emit: (row: RoutedRow) => void,
  ) {}

  /** A point's place in the rollup, made once per point; the recorder keeps it with the point. */
  slot(u: PointUpdate): RollupSlot {
    return { role: this.roleOf(u) };
  }

  update(u: PointUpdate, slot: RollupSlot): void {
    const good = u.quality === 'good';
    const v = typeof u.value === 'number' ? u.value : typeof u.value === 'boolean' ? (u.value ? 1 : 0) : undefined;
    if (v !== undefined && Number.isFinite(v)) {
      let s = slot.integrator;
      if (!s) this.series.push((s = slot.integrator = this.integrator({ site: this.site, room: u.room, device: u.device, point: u.point }, u.ts, false)));
      else s.catchUp(this.tickedTo);
      s.set(u.ts, good ? v : null, s.out);
    }
    if (slot.role) this.updateRoom(u, slot.role, good);
  }

  /** What a point means for the room's energy figures (from its device's kind), or '' for nothing. */
  private roleOf(u: PointUpdate): Role {
    const kind = this.kinds.get(`${u.room}\u0000${u.device}`);
    if (kind === 'lighting' && u.point.endsWith('.on')) return 'light';
    if (kind === 'occupancy' && u.point.endsWith('.present')) return 'presence';
    if (kind === 'hvac' && u.point.endsWith('.power')) return 'hvac';
    return '';
  }

  /**
   * On every recorder tick: closes the windows that have ended by `now`. Returns the
   * work as a job for slices.ts (it yields each step's cost); `now` counts at once.
   */
  tick(now: number): Generator<number, void> {
    if (now > this.tickedTo) this.tickedTo = now;
    // Between two window boundaries a tick would only add time to each sum; that waits
    // for the next update or boundary (catchUp), so most ticks cost nothing per point.
    const window = Math.floor(now / WINDOW_MS);
    if (window <= this.tickWindow) return noWork();
    this.tickWindow = window;
    return this.closeWindows(now);
  }

  private *closeWindows(now: number): Generator<number, void> {
    // Costs are yielded every 32 series: 1 each, 20 more per row written.
    let before = this.emitted;
    let n = 0;
    for (const s of this.series) {
      s.catchUp(now);
      if (++n % 32 === 0) {
        yield 32 + 20 * (this.emitted - before);
        before = this.emitted;
      }
    }
    for (const r of this.rooms.values()) {
      this.advanceRoom(r, now);
      if (++n % 32 === 0) {
        yield 32 + 20 * (this.emitted - before);
        before = this.emitted;
      }
    }
    yield (n % 32) + 20 * (this.emitted - before);
  }

  private advanceRoom(r: RoomSignals, now: number): void {
    r.lights_on.catchUp(now);
    r.lights_on_vacant.catchUp(now);
    r.hvac_on.catchUp(now);
  }

  /** Writes the open windows (graceful stop); a restart's first window then replaces it. */
  flush(now: number): void {
    for (const s of this.series) s.flush(now, s.out);
    for (const r of this.rooms.values()) for (const i of [r.lights_on, r.lights_on_vacant, r.hvac_on]) i.flush(now, i.out);
  }

  private updateRoom(u: PointUpdate, role: Role, good: boolean): void {
    const isLight = role === 'light';
    const isPresence = role === 'presence';
    const isHvac = role === 'hvac';
    let r = this.rooms.get(u.room);
    if (!r) {
      const tags = (point: string) => ({ site: this.site, room: u.room, device: '_room', point });
      r = { lightsOn: new Map(), hvacOn: new Map(), lights_on: this.integrator(tags('lights_on'), u.ts, true), lights_on_vacant: this.integrator(tags('lights_on_vacant'), u.ts, true), hvac_on: this.integrator(tags('hvac_on'), u.ts, true) };
      this.rooms.set(u.room, r);
    } else this.advanceRoom(r, this.tickedTo);
    const on = good && u.value === true;
    if (isLight) r.lightsOn.set(u.point, on);
    if (isHvac) r.hvacOn.set(u.point, on);
    if (isPresence) r.present = good && typeof u.value === 'boolean' ? u.value : undefined;
    const lights = [...r.lightsOn.values()].some(Boolean) ? 1 : 0;
    r.lights_on.set(u.ts, lights, r.lights_on.out);
    // Vacancy only counts where a presence sensor says so with good quality.
    r.lights_on_vacant.set(u.ts, r.present === undefined ? null : lights && !r.present ? 1 : 0, r.lights_on_vacant.out);
    r.hvac_on.set(u.ts, [...r.hvacOn.values()].some(Boolean) ? 1 : 0, r.hvac_on.out);
  }

  private integrator(tags: Record<string, string>, now: number, minutes: boolean): Integrator {
    const i = new Integrator(tags, now);
    i.out = this.out(i, minutes);
    return i;
  }

  private out(i: Integrator, minutes: boolean) {
    return (window: number, sum: number, covered: number, min: number, max: number) => {
      this.emitted++;
      this.emit({
        rp: RP.long,
        measurement: Measurement.telemetry,
        tags: i.tags,
        fields: { mean: sum / covered, min, max, covered_s: covered / 1000, ...(minutes ? { minutes: sum / 60_000 } : {}) },
        ts: window,
        unique: false,
      });
    };
  }
}
