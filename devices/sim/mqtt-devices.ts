import type { ResolvedDevice } from '../../controller/src/model/devices.ts';
import type { PointValue } from '../../controller/src/model/points.ts';
import type { Rng } from './random.ts';
import { BaseDevice, channelsOf, pointKey, round1, type RoomEnvironment } from './sim-device.ts';

/**
 * Models of the room's MQTT devices (the DSP and its microphones are in
 * mics.ts). mqtt-link.ts turns their point values into the profiles' topics and
 * payloads and their commands back into writes.
 */

/** Dimmable zones. Fault `lights_stuck_on`: the zone's relay is welded, it stays on whatever it is told. */
export class Lights extends BaseDevice {
  readonly zones: string[];

  constructor(device: ResolvedDevice, env: RoomEnvironment) {
    super(device, env);
    this.zones = channelsOf(device, /^([a-z0-9_]+)\.on$/);
    for (const z of this.zones) {
      this.initial(`${z}.on`, false);
      this.initial(`${z}.level`, 0);
    }
  }

  override read(key: string): PointValue | undefined {
    const [zone, what] = key.split('.') as [string, string];
    if (what === 'on' && this.stuck(zone)) return true;
    return super.read(key);
  }

  /** Lighting load: ~8 W/m² at full level, for the zones that are on. */
  heatW(): number {
    let w = 0;
    for (const z of this.zones) if (this.read(`${z}.on`) === true) w += (this.env.air.params.areaM2 * 8 * Number(this.read(`${z}.level`) ?? 0)) / 100 / this.zones.length;
    return w;
  }

  /** A stuck relay still takes commands (the controller cannot tell) but stays on. */
  private stuck(zone: string): boolean {
    return this.fault('lights_stuck_on', zone);
  }
}

/**
 * Door contact and electric lock. The door opens for a moment whenever people
 * come or go; a locked door reports unlocked while it stands open (the bolt has
 * nothing to catch). Fault `door_left_open`: propped open.
 */
export class Door extends BaseDevice {
  constructor(device: ResolvedDevice, env: RoomEnvironment) {
    super(device, env);
    this.initial('locked', true);
  }

  override read(key: string): PointValue | undefined {
    if (key === 'contact') return this.isOpen() ? 'open' : 'closed';
    if (key === 'locked') return this.values.get('locked') === true && !this.isOpen();
    return super.read(key);
  }

  isOpen(): boolean {
    return this.fault('door_left_open') || this.env.movements > 0;
  }
}

/** Window contact; closed unless fault `window_left_open`. */
export class WindowContact extends BaseDevice {
  override read(key: string): PointValue | undefined {
    if (key === 'contact') return this.isOpen() ? 'open' : 'closed';
    return super.read(key);
  }

  isOpen(): boolean {
    return this.fault('window_left_open');
  }
}

/** Presence and count only: nothing that identifies anyone (P15). */
export class OccupancySensor extends BaseDevice {
  override read(key: string): PointValue | undefined {
    if (key === 'present') return this.env.people > 0;
    if (key === 'count') return this.env.people;
    return super.read(key);
  }
}

/**
 * Display or projector: power on takes a warm-up (the lamp) before it reports
 * ON; off is immediate. Fault `display_no_power`: takes the command, never comes on.
 */
export class Display extends BaseDevice {
  private warmupLeftS = 0;
  private on = false;
  private static readonly WARMUP_S = 20;

  constructor(device: ResolvedDevice, env: RoomEnvironment) {
    super(device, env);
    this.initial('power', false);
    this.initial('input', 'hdmi1');
  }

  override read(key: string): PointValue | undefined {
    if (key === 'power') return this.on;
    return super.read(key);
  }

  override write(key: string, value: PointValue): boolean {
    if (!super.write(key, value)) return false;
    if (key === 'power' && value === false) {
      this.on = false;
      this.warmupLeftS = 0;
    } else if (key === 'power' && value === true && !this.on && this.warmupLeftS === 0) this.warmupLeftS = Display.WARMUP_S;
    return true;
  }

  override tick(dtS: number): void {
    if (this.fault('display_no_power')) {
      this.on = false;
      this.warmupLeftS = 0;
      return;
    }
    if (this.warmupLeftS > 0) {
      this.warmupLeftS = Math.max(0, this.warmupLeftS - dtS);
      if (this.warmupLeftS === 0 && this.values.get('power') === true) this.on = true;
    }
  }

  heatW(): number {
    return this.on ? 300 : 0;
  }

  /** Power-on: off (no warm-up in progress), input hdmi1. */
  override reboot(): void {
    super.reboot();
    this.on = false;
    this.warmupLeftS = 0;
  }
}

/** Water boiler (开水器, P1): ~1.4 K a minute when on, thermostat at 95–98 °C, cools slowly when off. */
export class Boiler extends BaseDevice {
  private water: number;
  private heating = false;

  constructor(device: ResolvedDevice, env: RoomEnvironment) {
    super(device, env);
    this.initial('power', false);
    this.water = env.air.temperatureC;
  }

  override read(key: string): PointValue | undefined {
    if (key === 'water_temperature') return round1(this.water);
    return super.read(key);
  }

  override tick(dtS: number): void {
    if (this.values.get('power') === true) {
      if (this.water >= 98) this.heating = false;
      else if (this.water <= 95) this.heating = true;
    } else this.heating = false;
    if (this.heating) this.water = Math.min(98, this.water + (1.4 * dtS) / 60);
    else this.water += (this.env.air.temperatureC - this.water) * Math.min(1, dtS / 10_800);
  }

  heatW(): number {
    return this.heating ? 150 : 0;
  }

  /** Power-on: off; the water keeps the heat it has. */
  override reboot(): void {
    super.reboot();
    this.heating = false;
  }
}

/** Room CO2 / humidity / temperature sensor, with its own small calibration offset. */
export class AirQualitySensor extends BaseDevice {
  private readonly offset: number;

  constructor(device: ResolvedDevice, env: RoomEnvironment, rng: Rng) {
    super(device, env);
    this.offset = round1(rng.range(-0.3, 0.3));
  }

  override read(key: string): PointValue | undefined {
    const air = this.env.air;
    if (key === 'co2') return Math.round(air.co2Ppm);
    if (key === 'humidity') return round1(air.humidityPct);
    if (key === 'temperature') return round1(air.temperatureC + this.offset);
    return super.read(key);
  }
}

/** A fire-alarm zone input: quiet in the demo building. */
export class FireAlarmInput extends BaseDevice {
  override read(key: string): PointValue | undefined {
    if (key === 'active') return false;
    return super.read(key);
  }
}

/** Any other profile: reports nothing, remembers what it is told (so a new profile never crashes the sim). */
export class PassiveDevice extends BaseDevice {
  readonly keys: string[];

  constructor(device: ResolvedDevice, env: RoomEnvironment) {
    super(device, env);
    this.keys = device.points.map((p) => pointKey(device, p.id));
  }
}
