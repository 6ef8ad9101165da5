import type { ClimateConfig, SimRoomConfig } from '../../controller/src/config/simulation-schema.ts';
import { epochToLocal } from './local-time.ts';
import type { Rng } from './random.ts';

/**
 * The physics that makes readiness meaningful: outdoor temperature by season and
 * time of day, and a one-node model of each room's air (temperature, CO2,
 * humidity). Numbers are rough engineering values, chosen so that rooms behave
 * the way a building engineer expects: a 200-seat hall takes far longer to
 * pre-cool than an 8-seat room, people warm a room and raise its CO2, an open
 * door leaks, fresh air brings CO2 down.
 */

/** Volumetric heat capacity of air, J/(m³·K). */
const AIR_J_PER_M3K = 1206;
/** Sensible heat of one seated person, W. */
export const PERSON_W = 100;
/** CO2 breathed out per person, as ppm·m³/h (0.0187 m³/h). */
const PERSON_CO2 = 18_700;
export const OUTDOOR_CO2_PPM = 420;

/** 0 in late January … 1 in late July (northern hemisphere). */
export function seasonWeight(dayOfYear: number): number {
  return (1 - Math.cos((2 * Math.PI * (dayOfYear - 20)) / 365)) / 2;
}

/** Typical low/high of a day of the year, between the configured winter and summer days. */
export function typicalDay(climate: ClimateConfig, dayOfYear: number): { low: number; high: number } {
  const w = seasonWeight(dayOfYear);
  return {
    low: climate.winter.low_c + w * (climate.summer.low_c - climate.winter.low_c),
    high: climate.winter.high_c + w * (climate.summer.high_c - climate.winter.high_c),
  };
}

/** Daily curve: coldest at 05:00, warmest at 15:00, half-cosines between. */
export function diurnal(hours: number, low: number, high: number): number {
  const h = ((hours % 24) + 24) % 24;
  const rising = h >= 5 && h < 15;
  const phase = rising ? (h - 5) / 10 : ((h < 5 ? h + 24 : h) - 15) / 14;
  const x = rising ? (1 - Math.cos(Math.PI * phase)) / 2 : (1 + Math.cos(Math.PI * phase)) / 2;
  return low + (high - low) * x;
}

/** Outdoor weather of the site: the typical day plus a slow, seeded random walk. */
export class OutdoorWeather {
  private offset: number;

  constructor(
    private climate: ClimateConfig,
    private timeZone: string,
    private rng: Rng,
  ) {
    this.offset = rng.gauss(climate.noise_c);
  }

  /** Advances the weather noise (mean-reverting over ~6 h); one draw per call. */
  step(dtS: number): void {
    const a = Math.min(1, dtS / 21_600);
    this.offset = this.offset * (1 - a) + this.rng.gauss(this.climate.noise_c) * Math.sqrt(2 * a);
  }

  temperatureAt(ts: number): number {
    const t = epochToLocal(ts, this.timeZone);
    const { low, high } = typicalDay(this.climate, t.dayOfYear);
    return diurnal(t.hours, low, high) + this.offset;
  }

  /** 0…1 sun on a façade: daylight 06:00–18:00, stronger in summer. */
  sunAt(ts: number): number {
    const t = epochToLocal(ts, this.timeZone);
    const day = Math.max(0, Math.sin((Math.PI * (t.hours - 6)) / 12));
    return day * (0.4 + 0.6 * seasonWeight(t.dayOfYear));
  }

  /** The rest of the building (corridors, offices) is conditioned loosely, following the season. */
  coreAt(ts: number): number {
    const t = epochToLocal(ts, this.timeZone);
    const { low, high } = typicalDay(this.climate, t.dayOfYear);
    return Math.min(25, Math.max(17, 21 + 0.25 * ((low + high) / 2 - 15)));
  }
}

export interface RoomParams {
  areaM2: number;
  heightM: number;
  volumeM3: number;
  /** Air plus the furniture and surfaces that follow it, J/K. */
  capacitanceJPerK: number;
  /** Exterior wall and glazing, W/K. */
  envelopeWPerK: number;
  /** Partitions to the (conditioned) rest of the building, W/K. */
  coreWPerK: number;
  /** Leakage, m³/h. */
  infiltrationM3h: number;
  /** An open door exchanges air with the corridor: W/K and m³/h. */
  doorWPerK: number;
  doorM3h: number;
  /** An open window: m³/h of outdoor air. */
  windowM3h: number;
  /** Peak solar gain, W. */
  solarPeakW: number;
  /** Cooling capacity of all fan-coil units together, W (heating: ×1.2). */
  coolingW: number;
  /** Fresh-air unit airflow at high speed, m³/h. */
  freshAirM3h: number;
}

/**
 * Derives a room's physics from its capacity (small rooms: ~1.8 m² a seat,
 * 3 m high; a hall: tiered seating, 6 m high, heavier and with less cooling per
 * m²), with seeded variation of the sun and the walls; overrides win.
 */
export function roomParams(capacity: number, overrides: SimRoomConfig = {}, rng?: Rng): RoomParams {
  const large = capacity > 60;
  const areaM2 = overrides.area_m2 ?? (large ? 50 + capacity * 1.6 : 12 + capacity * 1.8);
  const heightM = overrides.height_m ?? (large ? 6 : 3);
  const volumeM3 = areaM2 * heightM;
  const wallVariation = rng ? rng.range(0.85, 1.15) : 1;
  const solarFactor = overrides.solar_factor ?? (rng ? rng.range(0.5, 1.3) : 1);
  const doors = large ? 2 : 1;
  return {
    areaM2,
    heightM,
    volumeM3,
    capacitanceJPerK: volumeM3 * AIR_J_PER_M3K * (large ? 10 : 8),
    envelopeWPerK: areaM2 * 0.7 * wallVariation,
    coreWPerK: areaM2 * 1.2,
    infiltrationM3h: volumeM3 * 0.3,
    // A doorway exchanges ~0.25 m³/s with the corridor by convection alone.
    doorWPerK: 300 * doors,
    doorM3h: 250 * doors,
    windowM3h: 300,
    solarPeakW: areaM2 * 25 * solarFactor,
    coolingW: (overrides.cooling_kw ?? (areaM2 * (large ? 100 : 120)) / 1000) * 1000,
    // Sized, as a designer would, to hold P16's 1000 ppm with every seat taken: a person breathes
    // out 18.7 L/h of CO2, so 1000 − 420 ppm needs 32 m³/h a seat; 36 leaves ~10 % margin
    // (30 held a full 8-seat huddle at ~990 ppm, a fault-free room failing co2_below_max).
    freshAirM3h: overrides.fresh_air_m3h ?? capacity * 36,
  };
}

/** What acts on a room's air during one step. */
export interface AirInputs {
  outdoorC: number;
  coreC: number;
  /** Heat from the fan-coil units, W (negative = cooling). */
  hvacW: number;
  /** Lights, displays, the sun: W. */
  gainsW: number;
  people: number;
  doorOpen: boolean;
  windowOpen: boolean;
  freshAirM3h: number;
  freshSupplyC: number;
}

export class RoomAir {
  constructor(
    readonly params: RoomParams,
    public temperatureC: number,
    public co2Ppm = OUTDOOR_CO2_PPM + 30,
    public humidityPct = 45,
  ) {}

  step(dtS: number, i: AirInputs): void {
    const p = this.params;
    const T = this.temperatureC;
    // Corridors are barely conditioned: close to outdoors, a little buffered.
    const corridorC = i.coreC + 0.7 * (i.outdoorC - i.coreC);
    const conductance = (m3h: number) => (m3h / 3600) * AIR_J_PER_M3K;
    let q = i.hvacW + i.gainsW + i.people * PERSON_W;
    q += (p.envelopeWPerK + conductance(p.infiltrationM3h)) * (i.outdoorC - T);
    q += p.coreWPerK * (i.coreC - T);
    if (i.doorOpen) q += p.doorWPerK * (corridorC - T);
    if (i.windowOpen) q += conductance(p.windowM3h) * (i.outdoorC - T);
    q += conductance(i.freshAirM3h) * (i.freshSupplyC - T);
    this.temperatureC = T + (q * dtS) / p.capacitanceJPerK;

    const ventM3h = p.infiltrationM3h + i.freshAirM3h + (i.doorOpen ? p.doorM3h : 0) + (i.windowOpen ? p.windowM3h : 0);
    const dtH = dtS / 3600;
    this.co2Ppm += ((i.people * PERSON_CO2 - ventM3h * (this.co2Ppm - OUTDOOR_CO2_PPM)) / p.volumeM3) * dtH;

    const target = 42 + Math.min(18, (i.people * 40) / p.volumeM3) + (i.outdoorC > 26 ? 8 : 0);
    this.humidityPct += (target - this.humidityPct) * Math.min(1, dtS / 1800);
  }
}

/** Heating/cooling of one fan-coil unit by proportional control on its own sensor. */
export function fanCoilOutput(opts: {
  sensedC: number;
  setpointC: number;
  mode: string;
  fanFactor: number;
  capacityW: number;
}): { heatW: number; valvePct: number } {
  const PROPORTIONAL_BAND_K = 0.8;
  const demand = (opts.sensedC - opts.setpointC) / PROPORTIONAL_BAND_K;
  let fraction = 0;
  let heatW = 0;
  if (demand > 0 && (opts.mode === 'cool' || opts.mode === 'auto')) {
    fraction = Math.min(1, demand);
    heatW = -fraction * opts.fanFactor * opts.capacityW;
  } else if (demand < 0 && (opts.mode === 'heat' || opts.mode === 'auto')) {
    fraction = Math.min(1, -demand);
    heatW = fraction * opts.fanFactor * opts.capacityW * 1.2;
  }
  return { heatW, valvePct: Math.round(fraction * 100) };
}
