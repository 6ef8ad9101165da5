import type { ResolvedDevice } from '../../controller/src/model/devices.ts';
import type { PointValue } from '../../controller/src/model/points.ts';
import type { RoomAir } from './thermal.ts';

/**
 * What every simulated device model offers its transport (Modbus registers or
 * MQTT topics). Models speak in the profile's point keys (`setpoint`,
 * `mic.3.level`, `main.on`); the transports turn those into registers and
 * payloads from the profile's own mappings, so the simulator stays in step with
 * the device profiles.
 */
export interface SimDevice {
  readonly device: ResolvedDevice;
  /** The value the device reports now; undefined = it reports nothing for this point now. */
  read(key: string): PointValue | undefined;
  /** Applies a command; false when the device refuses it (its value stays). */
  write(key: string, value: PointValue): boolean;
  /** One physics step of the device (before the room's air is stepped). */
  tick(dtS: number): void;
  /** Heat the device puts into the room, W (negative = cooling). */
  heatW?(): number;
  /** Fresh air the device supplies. */
  freshAir?(): { m3h: number; supplyC: number };
  /** An open door or window. */
  isOpen?(): boolean;
  /**
   * Power lost and back (fault `device_reboot`): every commanded value returns to its
   * power-on (factory) default and any volatile state is gone; what is physical (a
   * battery's charge, the water in a boiler, run hours) stays.
   */
  reboot?(): void;
}

/** Fault kinds a device model looks up; `target` is a device name, mic channel or light zone. */
export interface FaultView {
  has(kind: string, target: string): boolean;
}

/** The shared, per-tick state of one room that device models read. */
export interface RoomEnvironment {
  readonly roomId: string;
  readonly capacity: number;
  readonly air: RoomAir;
  readonly faults: FaultView;
  now: number;
  outdoorC: number;
  people: number;
  /** People who came in or went out during the last tick (the door opened for them). */
  movements: number;
  /** A meeting is in progress and people are in the room: someone may be speaking. */
  inSession: boolean;
  /** A meeting is booked for now (start ≤ now < end), whether or not anyone came. */
  meetingNow: boolean;
}

/** The point key of a resolved point within its device: `audio.mic.3.level` → `mic.3.level`. */
export function pointKey(device: ResolvedDevice, pointId: string): string {
  return pointId.slice(device.name.length + 1);
}

/** Channel values a device was configured with, read back from its resolved points. */
export function channelsOf(device: ResolvedDevice, pattern: RegExp): string[] {
  const out: string[] = [];
  for (const p of device.points) {
    const m = pattern.exec(pointKey(device, p.id));
    if (m && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

export const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * A device model that keeps plain commanded values (power, input…) in a map. The
 * values a model starts with (`initial()`) are its power-on defaults: `reboot()` puts
 * them back.
 */
export abstract class BaseDevice implements SimDevice {
  protected values = new Map<string, PointValue>();
  private factory = new Map<string, PointValue>();

  constructor(
    readonly device: ResolvedDevice,
    protected env: RoomEnvironment,
  ) {}

  read(key: string): PointValue | undefined {
    return this.values.get(key);
  }

  write(key: string, value: PointValue): boolean {
    const point = this.device.points.find((p) => pointKey(this.device, p.id) === key);
    if (!point?.def.writable) return false;
    this.values.set(key, value);
    return true;
  }

  tick(_dtS: number): void {}

  /** Back from a power loss: the power-on defaults, nothing that was commanded since. */
  reboot(): void {
    this.values = new Map(this.factory);
  }

  /** Sets a value the device has at power-on (and again after every reboot). */
  protected initial(key: string, value: PointValue): void {
    this.values.set(key, value);
    this.factory.set(key, value);
  }

  protected fault(kind: string, target = this.device.name): boolean {
    return this.env.faults.has(kind, target);
  }
}
