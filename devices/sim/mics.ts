import type { ResolvedDevice } from '../../controller/src/model/devices.ts';
import type { PointValue } from '../../controller/src/model/points.ts';
import type { Rng } from './random.ts';
import { BaseDevice, channelsOf, type RoomEnvironment } from './sim-device.ts';

/**
 * A conference DSP and its microphones (P2, P3, P10).
 *
 * A microphone produces a level only while it is unmuted and either under test
 * (a tone at about -20 dBFS) or someone is speaking into it during a meeting
 * (speech around -32 dBFS, now and then). Otherwise the DSP reports no level for
 * it at all. A dead mic (fault `dead_mic`) or a wireless mic with a flat battery
 * never produces one.
 *
 * Wireless batteries behave like real handhelds: about ten hours of talk time
 * unmuted (DRAIN_UNMUTED), next to nothing while muted on the table during a
 * meeting or a test (DRAIN_MUTED), and back in the charging dock otherwise. The
 * dsp-mqtt profile has no charger or power point, so "docked" is inferred: muted,
 * not under test and no meeting booked in the room now; a docked mic charges at
 * CHARGE_DOCKED up to 100 %. They start the day at 80–100 %. Fault
 * `low_mic_battery` puts in a worn-out, nearly flat battery that no longer takes
 * a charge (so it runs out when used); clearing it swaps in a charged one.
 */

/** Battery, % per hour: unmuted (transmitting), muted on the table, charging in the dock. */
export const DRAIN_UNMUTED = 10;
export const DRAIN_MUTED = 0.5;
export const CHARGE_DOCKED = 40;
/** A wireless mic's battery at the start of the simulated day: uniform in this range, whole percent. */
export const START_BATTERY = { min: 80, max: 100 } as const;
/** What fault `low_mic_battery` leaves in the mic, %. */
export const LOW_BATTERY = 12;
const TEST_TONE_DBFS = -20;
const SPEECH_DBFS = -32;

interface Mic {
  wireless: boolean;
  battery: number;
  muted: boolean;
  testing: boolean;
  level: number | undefined;
  /** Chance per tick that someone speaks into it during a meeting (the chair's mic talks most). */
  talkChance: number;
}

export class Dsp extends BaseDevice {
  readonly mics = new Map<string, Mic>();
  private masterMuted = true;

  constructor(
    device: ResolvedDevice,
    env: RoomEnvironment,
    private rng: Rng,
    wirelessChannels: string[],
  ) {
    super(device, env);
    channelsOf(device, /^mic\.([a-z0-9_]+)\.level$/).forEach((ch, i) => {
      const wireless = wirelessChannels.includes(ch);
      this.mics.set(ch, { wireless, battery: wireless ? Math.round(rng.range(START_BATTERY.min, START_BATTERY.max)) : 100, muted: true, testing: false, level: undefined, talkChance: i === 0 ? 0.4 : 0.15 });
    });
  }

  override read(key: string): PointValue | undefined {
    if (key === 'master.mute') return this.masterMuted;
    const [, ch, what] = key.split('.') as [string, string, string];
    const mic = this.mics.get(ch);
    if (!mic) return undefined;
    switch (what) {
      case 'level':
        return mic.level;
      case 'battery':
        // Wired mics have no battery to report.
        return mic.wireless ? Math.ceil(mic.battery) : undefined;
      case 'mute':
        return mic.muted;
      case 'test':
        return mic.testing;
      default:
        return undefined;
    }
  }

  override write(key: string, value: PointValue): boolean {
    if (typeof value !== 'boolean') return false;
    if (key === 'master.mute') {
      this.masterMuted = value;
      return true;
    }
    const [, ch, what] = key.split('.') as [string, string, string];
    const mic = this.mics.get(ch);
    if (!mic) return false;
    if (what === 'mute') mic.muted = value;
    else if (what === 'test') mic.testing = value;
    else return false;
    // A muted mic or a stopped test goes quiet at once; a new level waits for the next measurement.
    if (!this.sounding(ch, mic)) mic.level = undefined;
    return true;
  }

  override tick(dtS: number): void {
    for (const [ch, mic] of this.mics) {
      // Draw the same numbers every tick whatever the state, so runs stay aligned.
      const talk = this.rng.float();
      const noise = this.rng.gauss(1);
      if (mic.wireless) mic.battery = this.nextBattery(ch, mic, dtS);
      if (!this.sounding(ch, mic)) mic.level = undefined;
      else if (mic.testing) mic.level = round(TEST_TONE_DBFS + noise * 1.5);
      else if (this.env.inSession && talk < mic.talkChance) mic.level = round(SPEECH_DBFS + noise * 5);
      else mic.level = undefined;
    }
  }

  /** Fault injected: a nearly flat battery goes in. */
  lowBattery(ch: string): void {
    const mic = this.mics.get(ch);
    if (mic?.wireless) mic.battery = Math.min(mic.battery, LOW_BATTERY);
  }

  /** Power lost and back (fault `device_reboot`): master and every channel muted, no test running; batteries keep their charge. */
  override reboot(): void {
    this.masterMuted = true;
    for (const mic of this.mics.values()) {
      mic.muted = true;
      mic.testing = false;
      mic.level = undefined;
    }
  }

  /** In the dock: muted, not under test, no meeting booked in the room now. */
  docked(mic: Mic): boolean {
    return mic.muted && !mic.testing && !this.env.meetingNow;
  }

  private nextBattery(ch: string, mic: Mic, dtS: number): number {
    const hours = dtS / 3600;
    if (this.docked(mic)) return this.fault('low_mic_battery', ch) ? mic.battery : Math.min(100, mic.battery + CHARGE_DOCKED * hours);
    if (mic.battery <= 0) return 0;
    return Math.max(0, mic.battery - (mic.muted ? DRAIN_MUTED : DRAIN_UNMUTED) * hours);
  }

  /** Fault cleared: a charged battery goes in. */
  swapBattery(ch: string): void {
    const mic = this.mics.get(ch);
    if (mic?.wireless) mic.battery = 100;
  }

  private alive(ch: string, mic: Mic): boolean {
    return !this.fault('dead_mic', ch) && (!mic.wireless || mic.battery > 0);
  }

  private sounding(ch: string, mic: Mic): boolean {
    return this.alive(ch, mic) && !mic.muted;
  }
}

const round = (v: number) => Math.max(-119, Math.min(-1, Math.round(v * 10) / 10));
