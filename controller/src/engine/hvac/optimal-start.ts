/**
 * Optimal start (P5): start HVAC as late as possible while still entering the comfort
 * band by the readiness check (T-15, P4) — not an hour early "to be safe".
 *
 * Each room learns how fast it heats and cools from its own history: while HVAC runs,
 * the temperature change per minute is sampled and fitted as
 *     rate (°C/min) = a + b·T + c·T_outdoor
 * which is a first-order room: it approaches the unit's supply temperature (the a + b·T
 * part, so the rate shrinks as the gap to the band closes) and leaks toward outdoors
 * (the c part, used only when every sample and the request carry an outdoor reading).
 * The time to close a gap is then found by stepping that equation minute by minute.
 * Until a room has enough history, a deliberately slow default rate is assumed.
 */
export const MAX_PRECONDITION_MINUTES = 180;
/** Conservative default until learned: 1.8 °C per hour, so a 4 °C gap starts over two hours ahead. */
export const DEFAULT_RATE_C_PER_MIN = 0.03;
/** Samples needed before the learned fit is trusted. */
export const MIN_SAMPLES = 12;
/** Rates slower than this count as "cannot get there": start at once. */
const MIN_RATE = 0.005;
/** Readings closer together than this are accumulated; sensors quantise to 0.1 °C. */
const SAMPLE_WINDOW_MS = 5 * 60_000;
/** A gap longer than this between readings breaks a run (missing data, not a slow room). */
const MAX_GAP_MS = 30 * 60_000;
const MAX_SAMPLES = 500;
/** How often a waiting decision is re-evaluated with a fresh temperature. */
export const REEVALUATE_MS = 15 * 60_000;

export type HvacDirection = 'heat' | 'cool';

export interface ThermalReading {
  ts: number;
  /** Room temperature (good quality only). */
  temperature: number;
  hvacOn: boolean;
  /** The unit's mode if known; `auto`/`fan`/absent → direction inferred from the change. */
  mode?: string;
  outdoor?: number;
}

interface RateSample {
  temperature: number;
  outdoor?: number;
  rate: number;
}

export interface RateFit {
  a: number;
  b: number;
  c: number;
  samples: number;
  usesOutdoor: boolean;
}

/** Per-room learned heating and cooling rates. */
export class ThermalLearner {
  private rooms = new Map<string, { anchor?: ThermalReading; heat: RateSample[]; cool: RateSample[] }>();

  /** The learned samples of every room, for keeping them across restarts (the anchor is not kept: a gap breaks a run anyway). */
  snapshot(): Record<string, { heat: RateSample[]; cool: RateSample[] }> {
    const out: Record<string, { heat: RateSample[]; cool: RateSample[] }> = {};
    for (const [room, h] of this.rooms) out[room] = { heat: [...h.heat], cool: [...h.cool] };
    return out;
  }

  /** Restores samples saved by snapshot(); malformed entries are skipped. */
  restore(data: Record<string, { heat?: unknown; cool?: unknown }>): void {
    const valid = (list: unknown): RateSample[] =>
      Array.isArray(list) ? list.filter((s): s is RateSample => !!s && Number.isFinite(s.temperature) && Number.isFinite(s.rate) && (s.outdoor === undefined || Number.isFinite(s.outdoor))).slice(-MAX_SAMPLES) : [];
    for (const [room, h] of Object.entries(data ?? {})) this.rooms.set(room, { heat: valid(h?.heat), cool: valid(h?.cool) });
  }

  observe(room: string, r: ThermalReading): void {
    let h = this.rooms.get(room);
    if (!h) this.rooms.set(room, (h = { heat: [], cool: [] }));
    const a = h.anchor;
    if (!r.hvacOn || !Number.isFinite(r.temperature)) return void (h.anchor = undefined);
    if (!a || r.ts - a.ts > MAX_GAP_MS || r.mode !== a.mode || r.ts < a.ts) return void (h.anchor = r);
    if (r.ts - a.ts < SAMPLE_WINDOW_MS) return;
    const rate = (r.temperature - a.temperature) / ((r.ts - a.ts) / 60_000);
    const direction: HvacDirection | undefined = r.mode === 'heat' || r.mode === 'cool' ? r.mode : rate > MIN_RATE ? 'heat' : rate < -MIN_RATE ? 'cool' : undefined;
    // A room holding its temperature (|rate| below MIN_RATE) says nothing about how fast it
    // can be brought into the band; such samples would only drag the fitted rate toward zero.
    if (direction && Math.abs(rate) >= MIN_RATE) {
      const list = h[direction];
      const outdoor = a.outdoor !== undefined && r.outdoor !== undefined ? (a.outdoor + r.outdoor) / 2 : undefined;
      list.push({ temperature: (a.temperature + r.temperature) / 2, outdoor, rate });
      if (list.length > MAX_SAMPLES) list.shift();
    }
    h.anchor = r;
  }

  /** The fitted rate model of a room and direction, or undefined while there is too little history. */
  fit(room: string, direction: HvacDirection, withOutdoor: boolean): RateFit | undefined {
    const samples = this.rooms.get(room)?.[direction] ?? [];
    if (samples.length < MIN_SAMPLES) return undefined;
    const useOutdoor = withOutdoor && samples.every((s) => s.outdoor !== undefined);
    const temps = samples.map((s) => s.temperature);
    const spread = Math.max(...temps) - Math.min(...temps);
    if (spread < 1) {
      // Too narrow a range to see how the rate depends on the gap: a constant rate.
      return { a: samples.reduce((s, x) => s + x.rate, 0) / samples.length, b: 0, c: 0, samples: samples.length, usesOutdoor: false };
    }
    const rows = samples.map((s) => (useOutdoor ? [1, s.temperature, s.outdoor!] : [1, s.temperature]));
    const coef = leastSquares(rows, samples.map((s) => s.rate));
    if (!coef) return undefined;
    return { a: coef[0]!, b: coef[1]!, c: useOutdoor ? coef[2]! : 0, samples: samples.length, usesOutdoor: useOutdoor };
  }

  /**
   * Minutes to bring the room from `from` to `target`, with a safety margin. Without a
   * trusted fit (too little history, or a fit that says the room never gets there) the
   * conservative default rate is used.
   */
  minutesToReach(room: string, from: number, target: number, outdoor?: number): { minutes: number; learned: boolean } {
    const direction: HvacDirection = target > from ? 'heat' : 'cool';
    const sign = direction === 'heat' ? 1 : -1;
    const fit = this.fit(room, direction, outdoor !== undefined);
    if (fit) {
      const rate = (t: number) => fit.a + fit.b * t + (fit.usesOutdoor ? fit.c * outdoor! : 0);
      let t = from;
      for (let minute = 0; minute <= MAX_PRECONDITION_MINUTES * 2; minute++) {
        if (sign * (target - t) <= 0) return { minutes: Math.ceil(minute * 1.1 + 5), learned: true }; // 10 % + 5 min margin
        const r = rate(t);
        if (sign * r < MIN_RATE) break;
        t += r;
      }
      // The fit says the room never gets there (or its rates have the wrong sign): not trusted.
    }
    return { minutes: Math.ceil(Math.abs(target - from) / DEFAULT_RATE_C_PER_MIN + 10), learned: false };
  }
}

export interface HvacStartInput {
  room: string;
  now: number;
  /** When the room must be in band: the readiness check (T-15, P4). */
  readyAt: number;
  /** Current room temperature if its quality is good; undefined if stale/offline. */
  temperature: number | undefined;
  band: [number, number];
  outdoor?: number;
}

export interface HvacStartDecision {
  action: 'start' | 'wait';
  /** start: now; wait: when to evaluate again (the planned start or a re-check, whichever is sooner). */
  at: number;
  direction: HvacDirection | 'hold';
  /** Setpoint to command: the middle of the band. */
  setpoint: number;
  /** When HVAC should start (epoch ms). */
  startAt: number;
  minutesNeeded: number;
  learned: boolean;
  reason: string;
}

/** Decides whether to start HVAC now for a meeting, or when to look again. */
export function decideHvacStart(learner: ThermalLearner, input: HvacStartInput): HvacStartDecision {
  const [lo, hi] = input.band;
  const setpoint = Math.round(((lo + hi) / 2) * 10) / 10;
  // Aim a little inside the band, so "in band" does not hinge on the last 0.1 °C — but not
  // so far in that the target sits in the slow tail of the approach to the setpoint (the
  // middle of the band), where a first-order room takes longest: that starts HVAC early.
  const margin = Math.min(0.25, (hi - lo) / 8);
  const t = input.temperature;
  const base = { setpoint };
  if (t === undefined)
    return { ...base, action: 'start', at: input.now, startAt: input.now, direction: 'hold', minutesNeeded: MAX_PRECONDITION_MINUTES, learned: false, reason: 'no good temperature reading: started at once' };
  let direction: HvacDirection | 'hold' = 'hold';
  let needed = 0;
  let learned = true;
  if (t < lo + margin || t > hi - margin) {
    direction = t < lo + margin ? 'heat' : 'cool';
    const target = direction === 'heat' ? lo + margin : hi - margin;
    const r = learner.minutesToReach(input.room, t, target, input.outdoor);
    learned = r.learned;
    needed = Math.min(MAX_PRECONDITION_MINUTES, r.minutes);
  }
  const startAt = input.readyAt - needed * 60_000;
  const why = direction === 'hold' ? `${t} °C already in ${lo}–${hi} °C` : `${t} °C → ${direction} to ${lo}–${hi} °C takes ~${needed} min (${learned ? 'learned' : 'default'} rate)`;
  if (startAt <= input.now) return { ...base, action: 'start', at: input.now, startAt, direction, minutesNeeded: needed, learned, reason: why };
  return { ...base, action: 'wait', at: Math.min(startAt, input.now + REEVALUATE_MS), startAt, direction, minutesNeeded: needed, learned, reason: why };
}

/**
 * Per-meeting energy and comfort record (MeetingVerdict.minutesInBandBeforeStart,
 * hvacMinutes). The executor reports HVAC on/off and temperature readings for the
 * meeting the room is being prepared for.
 */
export class HvacLedger {
  private m = new Map<string, { onSince?: number; minutes: number; enteredBandAt?: number; inBandAtStart?: number | null }>();

  hvacOn(meetingId: string, ts: number): void {
    const e = this.entry(meetingId);
    if (e.onSince === undefined) e.onSince = ts;
  }

  hvacOff(meetingId: string, ts: number): void {
    const e = this.entry(meetingId);
    if (e.onSince !== undefined) e.minutes += Math.max(0, ts - e.onSince) / 60_000;
    e.onSince = undefined;
  }

  /** A temperature reading while preparing: in band or not (undefined = unknown, ignored). */
  temperature(meetingId: string, ts: number, inBand: boolean | undefined): void {
    const e = this.entry(meetingId);
    if (inBand === undefined || e.inBandAtStart !== undefined) return;
    if (inBand && e.enteredBandAt === undefined) e.enteredBandAt = ts;
    if (!inBand) e.enteredBandAt = undefined;
  }

  /** Freezes "minutes in band before start" at the start of the meeting. */
  started(meetingId: string, start: number): void {
    const e = this.entry(meetingId);
    e.inBandAtStart = e.enteredBandAt === undefined ? null : round1((start - e.enteredBandAt) / 60_000);
  }

  summary(meetingId: string, now: number): { minutesInBandBeforeStart: number | null; hvacMinutes: number } {
    const e = this.m.get(meetingId);
    if (!e) return { minutesInBandBeforeStart: null, hvacMinutes: 0 };
    const running = e.onSince !== undefined ? Math.max(0, now - e.onSince) / 60_000 : 0;
    return { minutesInBandBeforeStart: e.inBandAtStart ?? null, hvacMinutes: round1(e.minutes + running) };
  }

  forget(meetingId: string): void {
    this.m.delete(meetingId);
  }

  private entry(id: string) {
    let e = this.m.get(id);
    if (!e) this.m.set(id, (e = { minutes: 0 }));
    return e;
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Ordinary least squares via the normal equations (2–3 unknowns); undefined if singular. */
function leastSquares(rows: number[][], y: number[]): number[] | undefined {
  const n = rows[0]!.length;
  const m = Array.from({ length: n }, () => new Array<number>(n + 1).fill(0));
  rows.forEach((row, k) => {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) m[i]![j]! += row[i]! * row[j]!;
      m[i]![n]! += row[i]! * y[k]!;
    }
  });
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    if (Math.abs(m[pivot]![col]!) < 1e-9) return undefined;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / m[col]![col]!;
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}
