import type { ResolvedDevice } from '../../controller/src/model/devices.ts';
import type { PointValue } from '../../controller/src/model/points.ts';
import type { Rng } from './random.ts';
import { BaseDevice, round1, type RoomEnvironment } from './sim-device.ts';
import { fanCoilOutput } from './thermal.ts';

/**
 * The Modbus units of a room: fan-coil units (fcu-modbus) and the fresh-air unit
 * (fau-modbus). These are the models; modbus-gateway.ts serves them as registers
 * laid out exactly as the profiles say.
 */

const FAN_FACTOR: Record<string, number> = { auto: 1, low: 0.55, medium: 0.8, high: 1 };

/**
 * A fan-coil unit: controls its own return-air sensor to its setpoint. Fault
 * `fcu_ignores_setpoint`: the unit acknowledges a new setpoint (and reads it
 * back) but keeps controlling to the one it had, as a unit with a broken
 * thermostat board does; only the room temperature gives it away.
 */
export class FanCoilUnit extends BaseDevice {
  private heat = 0;
  private valve = 0;
  private runMs: number;
  private frozenSetpoint: number | undefined;
  private readonly sensorOffset: number;

  constructor(
    device: ResolvedDevice,
    env: RoomEnvironment,
    rng: Rng,
    private capacityW: number,
    initialSetpoint: number,
  ) {
    super(device, env);
    this.sensorOffset = round1(rng.range(-0.3, 0.3));
    this.runMs = rng.int(800, 20_000) * 3_600_000;
    this.initial('power', false);
    this.initial('mode', 'auto');
    this.initial('fan_speed', 'auto');
    this.initial('setpoint', initialSetpoint);
  }

  override read(key: string): PointValue | undefined {
    switch (key) {
      case 'temperature':
        return this.sensed();
      case 'valve':
        return this.valve;
      case 'run_hours':
        return Math.floor(this.runMs / 3_600_000);
      case 'fault':
        return false;
      default:
        return super.read(key);
    }
  }

  override write(key: string, value: PointValue): boolean {
    // The broken board latches the setpoint it had when the fault struck.
    if (key === 'setpoint' && this.fault('fcu_ignores_setpoint')) this.frozenSetpoint ??= this.values.get('setpoint') as number;
    return super.write(key, value);
  }

  override tick(dtS: number): void {
    const setpoint = this.values.get('setpoint') as number;
    if (this.fault('fcu_ignores_setpoint')) this.frozenSetpoint ??= setpoint;
    else this.frozenSetpoint = undefined;
    if (this.values.get('power') !== true) {
      this.heat = 0;
      this.valve = 0;
      return;
    }
    this.runMs += dtS * 1000;
    const out = fanCoilOutput({
      sensedC: this.env.air.temperatureC + this.sensorOffset,
      setpointC: this.frozenSetpoint ?? setpoint,
      mode: String(this.values.get('mode')),
      fanFactor: FAN_FACTOR[String(this.values.get('fan_speed'))] ?? 1,
      capacityW: this.capacityW,
    });
    this.heat = out.heatW;
    this.valve = this.values.get('mode') === 'fan' ? 0 : out.valvePct;
  }

  heatW(): number {
    return this.heat;
  }

  /** Power-on defaults (off, auto, auto, the factory setpoint); the coil stops at once. Run hours are kept. */
  override reboot(): void {
    super.reboot();
    this.heat = 0;
    this.valve = 0;
    this.frozenSetpoint = undefined;
  }

  private sensed(): number {
    return round1(this.env.air.temperatureC + this.sensorOffset);
  }
}

const SPEED_FACTOR: Record<string, number> = { low: 0.5, medium: 0.75, high: 1 };

/**
 * A fresh-air unit (P16): outdoor air through a heat-recovery wheel, so the
 * supply sits between outdoor and room temperature; its duct CO2 sensor reads
 * the room's return air.
 */
export class FreshAirUnit extends BaseDevice {
  private flow = 0;

  constructor(
    device: ResolvedDevice,
    env: RoomEnvironment,
    private rng: Rng,
    private nominalM3h: number,
  ) {
    super(device, env);
    this.initial('power', false);
    this.initial('speed', 'low');
  }

  override read(key: string): PointValue | undefined {
    switch (key) {
      case 'co2':
        return Math.round(this.env.air.co2Ppm);
      case 'supply_temperature':
        return round1(this.supplyC());
      case 'airflow':
        return Math.round(this.flow * 10) / 10;
      case 'filter_alarm':
        return false;
      default:
        return super.read(key);
    }
  }

  override tick(_dtS: number): void {
    // One draw per tick whatever the state, so the stream stays aligned between runs.
    const jitter = 1 + this.rng.range(-0.01, 0.01);
    this.flow = this.values.get('power') === true ? this.nominalM3h * (SPEED_FACTOR[String(this.values.get('speed'))] ?? 0.5) * jitter : 0;
  }

  override reboot(): void {
    super.reboot();
    this.flow = 0;
  }

  freshAir(): { m3h: number; supplyC: number } {
    return { m3h: this.flow, supplyC: this.supplyC() };
  }

  private supplyC(): number {
    const out = this.env.outdoorC;
    return out + 0.65 * (this.env.air.temperatureC - out);
  }
}
