/**
 * Optimal start (P5): start HVAC as late as possible while still entering the comfort
 * band a few minutes before the readiness check (T-15, P4) — not an hour early "to be safe".
 *
 * The model. While a unit pulls a room toward its setpoint,
 *     dT/dt = ±pull(g) + d
 *   g        the distance from the setpoint (°C, ≥ 0 on the side the unit works from);
 *   pull(g)  the unit's own pull (°C/min), learned per room, season and direction as a
 *            non-decreasing step curve of g (isotonic regression of the samples): a
 *            first-order room with a thermostat pulls hard far from the setpoint and less
 *            and less as it closes in (the exponential approach), and a unit at full output
 *            pulls at a constant rate — the curve is whichever the room shows. Beyond the
 *            farthest distance learned, the pull is taken as the farthest one learned.
 *   d        the load the room is under at the time — sun, outdoor air, the rest of the
 *            building — measured as its free drift (°C/min) while its HVAC was off just
 *            before (no outdoor sensor needed: the drift is the outdoor load as the room feels it).
 * The pull of a sample is its rate less the drift measured before its run. The minutes from
 * g0 to the target's distance gt are ∫ dg / (pull(g) − a) over [gt, g0], a = the drift
 * working against the unit: a sum over the curve's steps, exact.
 *
 * What is learned is only what pre-conditioning looks like: the stretch from the moment this
 * decision starts the HVAC until the meeting starts. HVAC holding a meeting full of people
 * (who heat the room), a setback, or a room idling at its setpoint say nothing about how fast
 * the empty room can be brought into the band, and would skew the curve. Only the samples
 * beyond the target (between where rooms start and the band edge) are used.
 *
 * Samples are kept per season (the site's calendar: summer, winter, transition): a winter
 * heating rate never comes from summer data, nor a transition day's from January's. Until a
 * room has enough samples for the season and direction, a generous cold-start lead is used.
 */

/** The evaluation window opens this long before the readiness check (intent/steps.ts); no start is earlier. */
export const MAX_PRECONDITION_MINUTES = 180;
/** Until learned: this many minutes, plus COLD_START_MINUTES_PER_C per °C to close, at most COLD_START_MAX_MINUTES. */
export const COLD_START_BASE_MINUTES = 30;
export const COLD_START_MINUTES_PER_C = 30;
// As long as the evaluation window: a room far from its band (a hall after a winter night with its
// fan-coils off) may need all of it, and until learned nothing says it needs less.
export const COLD_START_MAX_MINUTES = MAX_PRECONDITION_MINUTES;
/**
 * Learned: aim to be in band this long before the readiness check, plus a fraction of the
 * predicted pull-down for the model's own error. Until the room has shown its error (no
 * approach of its own recorded yet for the season and direction), LEAD_FRACTION: 5 min + 5 %
 * left a vip3 room 0.8 °C out at T-15 on a hotter afternoon than the one it learned from (its
 * AV on from T-120 adds load); 8 + 15 % kept every demo meeting in band after a day of
 * learning, ~13 min before T-15 (bench:schedule). Once it has, the fraction is the worst
 * over-run of its last APPROACHES_KEPT approaches (0 if none ran over, at most
 * MAX_LEAD_FRACTION): a room the model predicts well is not started early for the rooms it
 * does not, and one it under-predicts is started as much earlier as it needed.
 */
export const LEAD_MINUTES = 8;
export const LEAD_FRACTION = 0.15;
export const MAX_LEAD_FRACTION = 0.5;
/** The approaches (predicted vs actual pull-down) kept per room, season and direction. */
export const APPROACHES_KEPT = 5;
/** A pull-down predicted shorter than this says little about the model's error as a fraction: not recorded. */
export const MIN_APPROACH_MINUTES = 10;
/**
 * Aim this far inside the band edge (at most a fifth of the band). The decision sees the
 * room's mean temperature; the readiness check wants every unit's sensor in band, and they
 * differ by a few tenths.
 */
export const BAND_MARGIN_C = 0.3;
/** Samples (beyond the target) needed before the learned model is trusted. */
export const MIN_SAMPLES = 4;
/** A learned pull weaker than this (°C/min) is not trusted; a net rate weaker than this never gets there. */
const MIN_RATE = 0.005;
/** Readings closer together than this are accumulated into one sample; sensors quantise to 0.1 °C. */
const SAMPLE_WINDOW_MS = 3 * 60_000;
/** A gap longer than this between readings breaks a run (missing data, not a slow room). */
const MAX_GAP_MS = 30 * 60_000;
const MAX_SAMPLES = 500;
/** The free drift is the slope of the readings of the last DRIFT_WINDOW_MS with HVAC off, once they span DRIFT_MIN_SPAN_MS. */
const DRIFT_WINDOW_MS = 45 * 60_000;
const DRIFT_MIN_SPAN_MS = 15 * 60_000;
/** A waiting decision is re-evaluated with a fresh temperature at least this often, and halfway to its planned start. */
export const REEVALUATE_MS = 15 * 60_000;
/** No good reading (e.g. the first poll is not answered yet): look again this soon, for up to NO_READING_GRACE_MS. */
export const NO_READING_RECHECK_MS = 60_000;
export const NO_READING_GRACE_MS = 10 * 60_000;
const MIN = 60_000;

export type HvacDirection = 'heat' | 'cool';

/** The season of an instant (the engine passes the site calendar: model/season.ts seasonAt). */
export type SeasonOf = (ts: number) => string;

/**
 * The configuration schema's default season months (summer June–September, winter
 * December–March) in this machine's time zone: only for a learner built without the site's
 * calendar.
 */
export const defaultSeasonOf: SeasonOf = (ts) => {
  const month = new Date(ts).getMonth() + 1;
  return month >= 6 && month <= 9 ? 'summer' : month === 12 || month <= 3 ? 'winter' : 'transition';
};

export interface ThermalReading {
  ts: number;
  /** Room temperature (good quality only). */
  temperature: number;
  hvacOn: boolean;
  /** The unit's mode if known; `auto`/`fan`/absent → the direction the decision sent it. */
  mode?: string;
}

/** One learned stretch of a pull-down. */
export interface RateSample {
  /** Mean temperature over the stretch (°C). */
  temperature: number;
  /** The setpoint the unit was pulling to. */
  setpoint: number;
  /** °C/min over the stretch. */
  rate: number;
  /** The free drift (°C/min) measured before the pull-down started, if it could be. */
  drift?: number;
}

/**
 * One pre-conditioning run started on a learned prediction: the pull-down it predicted and
 * the one it took (from the start to the first reading at the target). A run that had not
 * reached the target by its meeting's start took at least that long: recorded so.
 */
export interface Approach {
  direction: HvacDirection;
  predicted: number;
  actual: number;
}

/** A season's learned curve of one room and direction. */
export interface RateFit {
  direction: HvacDirection;
  setpoint: number;
  /** pull (°C/min, > 0) = steps[i].pull from distance steps[i].from (°C from the setpoint) up to the next step's; the first reaches down to 0, the last up without end. */
  steps: { from: number; pull: number }[];
  samples: number;
  season: string;
}

type Bucket = { heat: RateSample[]; cool: RateSample[]; approaches?: Approach[] };
export type ThermalSnapshot = Record<string, Record<string, Bucket>>;

interface RoomThermal {
  seasons: Map<string, Bucket>;
  /** Readings with HVAC off (the free drift), the last 90 minutes. */
  off: { ts: number; t: number }[];
  anchor?: ThermalReading;
  /** A pre-conditioning run this decision started: samples are learned from it until `until`. */
  window?: {
    from: number;
    until: number;
    setpoint: number;
    direction: HvacDirection;
    drift?: number;
    approached?: boolean;
    over?: boolean;
    /** A learned start: the predicted pull-down (min) to `target` (on the learner's sensor), until the approach is recorded. */
    predicted?: { minutes: number; target: number };
  };
  /** The latest reading, to relate the learner's sensor to the temperature a decision is given. */
  last?: { ts: number; t: number };
  /** First decision that found no good reading, since the last good one. */
  missingSince?: number;
}

/** Per room and season: learned heating and cooling, the free drift, the pre-conditioning runs. */
export class ThermalLearner {
  private rooms = new Map<string, RoomThermal>();
  private seasonOf: SeasonOf;

  constructor(options: { seasonOf?: SeasonOf } = {}) {
    this.seasonOf = options.seasonOf ?? defaultSeasonOf;
  }

  season(ts: number): string {
    return this.seasonOf(ts);
  }

  /** The learned samples of every room and season, for keeping them across restarts. */
  snapshot(): ThermalSnapshot {
    const out: ThermalSnapshot = {};
    for (const [room, h] of this.rooms) {
      const seasons: Record<string, Bucket> = {};
      for (const [season, b] of h.seasons) {
        if (b.heat.length + b.cool.length + (b.approaches?.length ?? 0) === 0) continue;
        seasons[season] = { heat: [...b.heat], cool: [...b.cool], ...(b.approaches?.length ? { approaches: b.approaches.map((a) => ({ ...a })) } : {}) };
      }
      if (Object.keys(seasons).length > 0) out[room] = seasons;
    }
    return out;
  }

  /** Restores samples saved by snapshot(); malformed entries are skipped. */
  restore(data: Record<string, Record<string, { heat?: unknown; cool?: unknown; approaches?: unknown } | undefined> | undefined>): void {
    const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
    const valid = (list: unknown): RateSample[] =>
      Array.isArray(list)
        ? list
            .filter((s): s is RateSample => !!s && finite(s.temperature) && finite(s.setpoint) && finite(s.rate) && (s.drift === undefined || finite(s.drift)))
            .map((s) => ({ temperature: s.temperature, setpoint: s.setpoint, rate: s.rate, ...(s.drift !== undefined ? { drift: s.drift } : {}) }))
            .slice(-MAX_SAMPLES)
        : [];
    const approaches = (list: unknown): Approach[] =>
      Array.isArray(list)
        ? list
            .filter((a): a is Approach => !!a && (a.direction === 'heat' || a.direction === 'cool') && finite(a.predicted) && a.predicted > 0 && finite(a.actual) && a.actual >= 0)
            .map((a) => ({ direction: a.direction, predicted: a.predicted, actual: a.actual }))
            .slice(-2 * APPROACHES_KEPT)
        : [];
    for (const [room, seasons] of Object.entries(data ?? {})) {
      if (!seasons || typeof seasons !== 'object') continue;
      const h = this.room(room);
      for (const [season, b] of Object.entries(seasons)) {
        if (!b || typeof b !== 'object') continue;
        const kept = approaches(b.approaches);
        h.seasons.set(season, { heat: valid(b.heat), cool: valid(b.cool), ...(kept.length ? { approaches: kept } : {}) });
      }
    }
  }

  /** Every good temperature reading of the room (HVAC on or off). */
  observe(room: string, r: ThermalReading): void {
    const h = this.room(room);
    if (!Number.isFinite(r.temperature)) return void (h.anchor = undefined);
    h.last = { ts: r.ts, t: r.temperature };
    this.approach(h, r);
    if (!r.hvacOn) {
      // The window stays: the first readings after a start may still show the unit off.
      h.anchor = undefined;
      const last = h.off.at(-1);
      if (last && (r.ts < last.ts || r.ts - last.ts > MAX_GAP_MS)) h.off = [];
      h.off.push({ ts: r.ts, t: r.temperature });
      while (h.off.length > 1 && h.off[0]!.ts < r.ts - 2 * DRIFT_WINDOW_MS) h.off.shift();
      return;
    }
    h.off = [];
    const w = h.window;
    if (!w || w.over || r.ts < w.from || r.ts > w.until) return void (h.anchor = undefined);
    const a = h.anchor;
    if (!a || r.ts - a.ts > MAX_GAP_MS || r.mode !== a.mode || r.ts < a.ts) return void (h.anchor = r);
    if (r.ts - a.ts < SAMPLE_WINDOW_MS) return;
    const rate = (r.temperature - a.temperature) / ((r.ts - a.ts) / MIN);
    // The unit's mode says which way it works; in `auto`, the way the decision sent it.
    const direction: HvacDirection = r.mode === 'heat' || r.mode === 'cool' ? r.mode : w.direction;
    h.anchor = r;
    // Once the room has come as close as it will (no nearer than 3 minutes ago), the pull-down
    // is over: what follows is the unit holding it, which says nothing about the approach.
    const approaching = (direction === 'heat' ? 1 : -1) * rate > 0;
    if (!approaching && w.approached) return void (w.over = true);
    if (approaching) w.approached = true;
    const list = this.bucket(h, this.seasonOf(r.ts))[direction];
    list.push({ temperature: (a.temperature + r.temperature) / 2, setpoint: w.setpoint, rate, ...(w.drift !== undefined ? { drift: w.drift } : {}) });
    if (list.length > MAX_SAMPLES) list.shift();
  }

  /**
   * The room's free drift now (°C/min): the slope of its readings over the last 45 minutes
   * with HVAC off, once they span 15 minutes; undefined while HVAC is on or too soon after.
   * Readings arrive when the value changes, so the last one still holds at `now`.
   */
  drift(room: string, now: number): number | undefined {
    const off = this.rooms.get(room)?.off ?? [];
    if (off.length === 0 || now - off[0]!.ts < DRIFT_MIN_SPAN_MS || now - off.at(-1)!.ts > MAX_GAP_MS) return undefined;
    const from = now - DRIFT_WINDOW_MS;
    const points: { ts: number; t: number }[] = [];
    const before = off.filter((p) => p.ts <= from).at(-1);
    if (before) points.push({ ts: from, t: before.t });
    points.push(...off.filter((p) => p.ts > from && p.ts <= now));
    if (points.length === 0) return undefined;
    points.push({ ts: now, t: points.at(-1)!.t });
    const n = points.length;
    const mx = points.reduce((s, p) => s + p.ts, 0) / n;
    const my = points.reduce((s, p) => s + p.t, 0) / n;
    let sxy = 0;
    let sxx = 0;
    for (const p of points) {
      sxy += (p.ts - mx) * (p.t - my);
      sxx += (p.ts - mx) ** 2;
    }
    return sxx === 0 ? undefined : (sxy / sxx) * MIN;
  }

  /**
   * Tells the learner that HVAC is being started now to bring the room into the band for a
   * meeting at `until`: the readings of this run, up to then, are learned (decideHvacStart
   * calls it when it starts a room), pulling to `setpoint`. `drift` is the free drift the decision saw.
   */
  preconditioning(room: string, run: { from: number; until: number; setpoint: number; direction: HvacDirection; drift?: number; predicted?: { minutes: number; target: number } }): void {
    const h = this.room(room);
    const old = h.window;
    // A run replaced before it reached its target took at least until now (or its meeting's start).
    if (old?.predicted) this.recordApproach(h, old, Math.min(run.from, old.until));
    h.window = {
      from: run.from,
      until: run.until,
      setpoint: run.setpoint,
      direction: run.direction,
      ...(run.drift !== undefined ? { drift: run.drift } : {}),
      ...(run.predicted && run.predicted.minutes >= MIN_APPROACH_MINUTES && Number.isFinite(run.predicted.minutes) ? { predicted: run.predicted } : {}),
    };
  }

  /**
   * The fraction of a predicted pull-down to add to the lead for the model's error in this
   * room, season and direction: the worst over-run of its last APPROACHES_KEPT approaches
   * ((actual − predicted) / predicted, 0 if none ran over, at most MAX_LEAD_FRACTION);
   * undefined while none is recorded.
   */
  leadFraction(room: string, direction: HvacDirection, at: number): number | undefined {
    const list = (this.rooms.get(room)?.seasons.get(this.seasonOf(at))?.approaches ?? []).filter((a) => a.direction === direction).slice(-APPROACHES_KEPT);
    if (list.length === 0) return undefined;
    const worst = Math.max(...list.map((a) => (a.actual - a.predicted) / a.predicted));
    return Math.min(MAX_LEAD_FRACTION, Math.max(0, worst));
  }

  /**
   * The learned curve of a room for pulling it toward `setpoint`, as far as `target`, in the
   * season of `at`; undefined while there are fewer than MIN_SAMPLES samples beyond the target
   * (or they make no sense: a unit that does not pull the right way).
   */
  fit(room: string, direction: HvacDirection, setpoint: number, target: number, at: number): RateFit | undefined {
    const season = this.seasonOf(at);
    const all = this.rooms.get(room)?.seasons.get(season)?.[direction] ?? [];
    const sign = direction === 'heat' ? 1 : -1; // +1: the unit raises the temperature
    const reach = sign * (setpoint - target);
    // Distance from the setpoint and pull (less the load measured before the run; unknown → none).
    const points = all
      .map((s) => ({ g: sign * (s.setpoint - s.temperature), pull: sign * (s.rate - (s.drift ?? 0)) }))
      .filter((p) => p.g >= reach)
      .sort((a, b) => a.g - b.g);
    if (points.length < MIN_SAMPLES) return undefined;
    // Pool adjacent violators: the pull may only grow with the distance.
    const blocks: { from: number; sum: number; n: number }[] = [];
    for (const p of points) {
      blocks.push({ from: p.g, sum: p.pull, n: 1 });
      while (blocks.length > 1 && blocks.at(-2)!.sum / blocks.at(-2)!.n >= blocks.at(-1)!.sum / blocks.at(-1)!.n) {
        const top = blocks.pop()!;
        blocks.at(-1)!.sum += top.sum;
        blocks.at(-1)!.n += top.n;
      }
    }
    const steps = blocks.map((b) => ({ from: b.from, pull: b.sum / b.n }));
    if (steps.at(-1)!.pull < MIN_RATE) return undefined;
    return { direction, setpoint, steps, samples: points.length, season };
  }

  /**
   * Minutes to bring the room from `from` to `target` pulling toward `setpoint` (no margin),
   * against today's free drift if known (unknown: none, as for a sample whose load was not
   * measured). learned: false → the cold-start lead.
   */
  minutesToReach(room: string, from: number, target: number, options: { at: number; setpoint: number; drift?: number }): { minutes: number; learned: boolean } {
    const direction: HvacDirection = target > from ? 'heat' : 'cool';
    const fit = this.fit(room, direction, options.setpoint, target, options.at);
    if (!fit) return { minutes: coldStartMinutes(Math.abs(target - from)), learned: false };
    return { minutes: minutesToClose(fit, from, target, options.drift), learned: true };
  }

  /**
   * How far the learner's sensor (the room's first unit) reads above `temperature` (the
   * room's mean, as decisions get it), from its reading of the last 10 minutes; 0 if none.
   */
  sensorOffset(room: string, temperature: number, now: number): number {
    const last = this.rooms.get(room)?.last;
    return last && now - last.ts <= 10 * MIN && now >= last.ts ? last.t - temperature : 0;
  }

  /** A decision found no good reading: since when (the first such decision since the last good reading). */
  readingMissing(room: string, now: number): number {
    const h = this.room(room);
    return (h.missingSince ??= now);
  }

  readingSeen(room: string): void {
    const h = this.rooms.get(room);
    if (h) h.missingSince = undefined;
  }

  /** A learned run's approach: recorded at the first reading at its target, or once its meeting has begun without it. */
  private approach(h: RoomThermal, r: ThermalReading): void {
    const w = h.window;
    if (!w?.predicted || r.ts < w.from) return;
    if (r.ts > w.until) return this.recordApproach(h, w, w.until);
    const reached = w.direction === 'heat' ? r.temperature >= w.predicted.target : r.temperature <= w.predicted.target;
    if (r.hvacOn && reached) this.recordApproach(h, w, r.ts);
  }

  private recordApproach(h: RoomThermal, w: NonNullable<RoomThermal['window']>, at: number): void {
    const predicted = w.predicted!;
    w.predicted = undefined;
    const b = this.bucket(h, this.seasonOf(w.from));
    const list = (b.approaches ??= []);
    list.push({ direction: w.direction, predicted: round3(predicted.minutes), actual: round3(Math.max(0, at - w.from) / MIN) });
    // Kept per direction: the oldest of this direction goes.
    if (list.filter((a) => a.direction === w.direction).length > APPROACHES_KEPT) list.splice(list.findIndex((a) => a.direction === w.direction), 1);
  }

  private room(room: string): RoomThermal {
    let h = this.rooms.get(room);
    if (!h) this.rooms.set(room, (h = { seasons: new Map(), off: [] }));
    return h;
  }

  private bucket(h: RoomThermal, season: string): Bucket {
    let b = h.seasons.get(season);
    if (!b) h.seasons.set(season, (b = { heat: [], cool: [] }));
    return b;
  }
}

/** The cold-start lead for a gap of `gapC` °C: generous, until the room is learned. */
export function coldStartMinutes(gapC: number): number {
  return Math.min(COLD_START_MAX_MINUTES, COLD_START_BASE_MINUTES + COLD_START_MINUTES_PER_C * gapC);
}

/**
 * Minutes for the learned curve to take the room from `from` to `target`: the sum over the
 * curve's steps of (°C of the step between them) / (pull − a), a = the drift working against
 * the unit (unknown: none). Infinity when the load is stronger than the unit somewhere on the way.
 */
export function minutesToClose(fit: Pick<RateFit, 'direction' | 'setpoint' | 'steps'>, from: number, target: number, drift?: number): number {
  const sign = fit.direction === 'heat' ? 1 : -1;
  const g0 = sign * (fit.setpoint - from);
  const gt = sign * (fit.setpoint - target);
  if (g0 <= gt) return 0;
  const against = drift === undefined ? 0 : -sign * drift;
  let minutes = 0;
  fit.steps.forEach((step, i) => {
    const lo = i === 0 ? -Infinity : step.from;
    const hi = fit.steps[i + 1]?.from ?? Infinity;
    const span = Math.min(hi, g0) - Math.max(lo, gt);
    if (span <= 0) return;
    const net = step.pull - against;
    minutes += net < MIN_RATE ? Infinity : span / net;
  });
  return minutes;
}

export interface HvacStartInput {
  room: string;
  now: number;
  /** When the room must be in band: the readiness check (T-15, P4). */
  readyAt: number;
  /** The meeting's start: the end of the pre-conditioning run that is learned; default readyAt + 15 min. */
  meetingStart?: number;
  /** Current room temperature if its quality is good; undefined if stale/offline. */
  temperature: number | undefined;
  band: [number, number];
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
  /** Minutes from the start to the readiness check: the predicted pull-down plus the lead (or the cold-start lead). */
  minutesNeeded: number;
  learned: boolean;
  reason: string;
}

/**
 * Decides whether to start HVAC now for a meeting, or when to look again.
 *
 * The room drifts while it waits (a summer room in the sun warms): if HVAC starts s minutes
 * from now, it starts from T + d·s, where d is the free drift when it moves the room away
 * from the band's middle (a drift toward it is not counted on). The start is the latest s
 * with s + pull-down(T + d·s) + lead ≤ minutes to the readiness check; lead = 8 min + 15 % of
 * the pull-down, so the room is in band some 8–15 minutes before T-15. Until learned, the
 * pull-down plus lead is the cold-start lead. Starting a room tells the learner to learn this run.
 */
export function decideHvacStart(learner: ThermalLearner, input: HvacStartInput): HvacStartDecision {
  const { room, now, readyAt } = input;
  const [lo, hi] = input.band;
  const setpoint = round1((lo + hi) / 2);
  const margin = Math.min(BAND_MARGIN_C, (hi - lo) / 5);
  const t = input.temperature;
  if (t === undefined) {
    // No reading yet (the first poll after a restart) or a sensor that is down: look again
    // shortly; only after the grace, start with the cold-start lead, direction by season.
    const since = learner.readingMissing(room, now);
    const startAt = readyAt - COLD_START_MAX_MINUTES * MIN;
    const base = { setpoint, direction: 'hold' as const, startAt, minutesNeeded: COLD_START_MAX_MINUTES, learned: false };
    if (now < readyAt && now - since < NO_READING_GRACE_MS) return { ...base, action: 'wait', at: Math.min(now + NO_READING_RECHECK_MS, readyAt), reason: 'no good temperature reading yet: looking again in a minute' };
    if (startAt <= now) return { ...base, action: 'start', at: now, reason: `no good temperature reading for ${Math.round((now - since) / MIN)} min: started with the cold-start lead` };
    return { ...base, action: 'wait', at: Math.min(startAt, now + REEVALUATE_MS), reason: 'no good temperature reading: will start with the cold-start lead' };
  }
  learner.readingSeen(room);
  const left = (readyAt - now) / MIN;
  const drift = learner.drift(room, now);
  const away = drift !== undefined && Math.sign(drift) === Math.sign(t - setpoint) ? drift : 0;
  // The curve was learned on the first unit's sensor; the decision is given the room's mean.
  const offset = learner.sensorOffset(room, t, now);
  const fits = new Map<HvacDirection, RateFit | undefined>();
  const fractions = new Map<HvacDirection, number | undefined>();
  /** Starting s minutes from now: the room's temperature then, and the minutes from then to the readiness check it needs. */
  const plan = (s: number) => {
    const from = t + away * s;
    if (from >= lo + margin && from <= hi - margin) return { direction: 'hold' as const, from, target: from, total: 0, pull: 0, learned: true, sensorTarget: undefined };
    const direction: HvacDirection = from < lo + margin ? 'heat' : 'cool';
    const target = direction === 'heat' ? lo + margin : hi - margin;
    if (!fits.has(direction)) fits.set(direction, learner.fit(room, direction, setpoint, target + offset, readyAt));
    const fit = fits.get(direction);
    if (!fit) {
      const cold = micro(coldStartMinutes(Math.abs(target - from)));
      return { direction, from, target, total: cold, pull: cold, learned: false, sensorTarget: undefined };
    }
    const pull = micro(minutesToClose(fit, from + offset, target + offset, drift));
    if (!fractions.has(direction)) fractions.set(direction, learner.leadFraction(room, direction, readyAt));
    return { direction, from, target, total: micro(pull + LEAD_MINUTES + (fractions.get(direction) ?? LEAD_FRACTION) * pull), pull, learned: true, sensorTarget: target + offset };
  };
  // In band at the readiness check without HVAC: wait for it (HVAC holds the band from then).
  let p = plan(Math.max(0, left));
  let startAt = readyAt;
  let late = 0;
  if (p.total > 0) {
    // Else the latest whole minute that still makes it; a room still in band then is held there.
    let s = Math.floor(left);
    for (; s >= 0; s--) {
      p = plan(s);
      // Still in band at s: HVAC started then holds it — if it starts LEAD_MINUTES before the room would leave.
      if (p.total > 0 ? s + p.total <= left : plan(Math.min(left, s + LEAD_MINUTES)).total === 0) break;
    }
    if (s < 0) {
      s = 0;
      p = plan(0);
      late = p.total - left;
    }
    startAt = now + s * MIN;
  }
  const needed = p.total > 0 ? Math.min(MAX_PRECONDITION_MINUTES, Math.ceil(p.total)) : Math.max(0, Math.round((readyAt - startAt) / MIN));
  const season = learner.season(readyAt);
  const drifting = drift === undefined ? '' : `, drifting ${drift >= 0 ? '+' : ''}${(drift * 60).toFixed(1)} °C/h`;
  const reason =
    p.direction === 'hold'
      ? `${t} °C: in ${lo}–${hi} °C at ${startAt === readyAt ? 'the readiness check' : 'the start'}${drifting}`
      : `${round1(p.from)} °C → ${p.direction} to ${round1(p.target)} °C: ${p.learned ? `~${Number.isFinite(p.pull) ? Math.round(p.pull) : '∞'} min (learned, ${season}) + ${Math.round(p.total - p.pull)} min lead (${LEAD_MINUTES} min + ${leadText(fractions.get(p.direction))})` : `cold-start lead ${Math.round(p.total)} min (not learned yet for ${season})`}${drifting}${late > 0 ? `: ${Number.isFinite(late) ? `${Math.ceil(late)} min late` : 'cannot get there'}, started at once` : ''}`;
  const base = { setpoint, direction: p.direction, startAt, minutesNeeded: needed, learned: p.learned };
  // Looked at again halfway to the start (at most REEVALUATE_MS on): the nearer the start, the
  // fresher the reading and the drift it is decided on (a fresh-air unit switched on at T-30
  // changes the load).
  if (startAt > now) return { ...base, action: 'wait', at: Math.min(startAt, now + REEVALUATE_MS, now + Math.max(MIN, (startAt - now) / 2)), reason };
  // A learned start also records how long the pull-down then takes against what it predicted (the room's error, for its next lead).
  const predicted = p.learned && p.sensorTarget !== undefined ? { predicted: { minutes: p.pull, target: p.sensorTarget } } : {};
  if (p.direction !== 'hold') learner.preconditioning(room, { from: now, until: input.meetingStart ?? readyAt + 15 * MIN, setpoint, direction: p.direction, ...(drift !== undefined ? { drift } : {}), ...predicted });
  return { ...base, action: 'start', at: now, reason };
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
const leadText = (f: number | undefined) => (f === undefined ? `${LEAD_FRACTION * 100} %, no approach recorded yet` : `${Math.round(f * 100)} %, the worst over-run of its last approaches`);
const round3 = (x: number) => Math.round(x * 1000) / 1000;
/** Minutes to a millionth: 24.5 − 23.7 °C must not cost a whole minute by floating-point dust. */
const micro = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x);

