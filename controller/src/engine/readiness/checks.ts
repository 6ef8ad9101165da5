import type { Room } from '../../config/load.ts';
import type { CheckOutcome, CheckStatus, MeetingLevel } from '../../model/events.ts';
import type { ResolvedDevice } from '../../model/devices.ts';
import type { DeviceHealth, PointState, PointValue } from '../../model/points.ts';
import type { Season } from '../../model/season.ts';
import { flagKind } from '../../config/kind-contracts.ts';

/**
 * Readiness checks: pure, named functions of (room state + room definition + meeting +
 * season) → pass / fail / unknown with what was observed and what was expected.
 *
 * The one rule every check follows: a value counts only while its quality is `good`.
 * A stale or offline point makes the check `unknown` — never `pass` — unless another
 * point of the same check already fails (then `fail`: not ready, whatever the rest says).
 * Which checks apply depends on the room's devices: a room without a display has no
 * display_on check at all, rather than a check that always passes.
 */
export type CheckName =
  | 'devices_online'
  | 'temperature_in_band'
  | 'lights_scene'
  | 'mic_test'
  | 'backup_mics'
  | 'audio_unmuted'
  | 'display_on'
  | 'door_unlocked'
  | 'fresh_air_on'
  | 'co2_below_max';

/** What checks read; RoomStateStore satisfies it. */
export interface StateReader {
  get(room: string, point: string): PointState | undefined;
  deviceHealth(room: string, device: string): DeviceHealth | undefined;
}

export interface CheckInput {
  room: Pick<Room, 'id' | 'policy' | 'devices' | 'scenes'>;
  state: StateReader;
  meeting?: { id: string; level: MeetingLevel };
  season: Season;
}

export interface CheckResult {
  status: CheckStatus;
  observed: PointValue | PointValue[] | null;
  expected: string;
}

interface CheckDef {
  procedures: string[];
  applies(input: CheckInput): boolean;
  run(input: CheckInput): CheckResult;
}

/** One point's contribution to a check. */
interface Item {
  id: string;
  status: CheckStatus;
  shown: PointValue;
}

const LEVEL_TOLERANCE = 3; // % — dimmers report a level a step or two off what was commanded

const ofKind = (input: CheckInput, kind: string): ResolvedDevice[] => input.room.devices.filter((d) => d.profile.kind === kind);
const hasPoint = (d: ResolvedDevice, key: string) => d.points.some((p) => p.id === `${d.name}.${key}`);

/** A device's own fault flags (`fault`, `<part>_fault`: config/kind-contracts.ts) that read true now. */
export function faultsReported(input: Pick<CheckInput, 'room' | 'state'>, d: ResolvedDevice): string[] {
  return d.points
    .filter((p) => flagKind(d.profile.kind, p.id.slice(d.name.length + 1), p.def) === 'fault')
    .filter((p) => {
      const s = input.state.get(input.room.id, p.id);
      return s?.quality === 'good' && s.value === true;
    })
    .map((p) => `${p.id}=true`);
}

/** A point judged by `ok` on its good value; stale/offline/missing → unknown. */
function judge(input: CheckInput, id: string, ok: (v: PointValue) => boolean, unit = ''): Item {
  const s = input.state.get(input.room.id, id);
  if (!s || s.quality !== 'good' || s.value === null) return { id, status: 'unknown', shown: `${id}: ${s ? (s.value === null ? 'no reading' : s.quality) : 'no such point'}` };
  return { id, status: ok(s.value) ? 'pass' : 'fail', shown: `${id}=${s.value}${unit}` };
}

/** fail if any item fails; else unknown if any is unknown; else pass. Observed lists the items that decided it. */
function combine(items: Item[], expected: string): CheckResult {
  const status: CheckStatus = items.some((i) => i.status === 'fail') ? 'fail' : items.some((i) => i.status === 'unknown') ? 'unknown' : 'pass';
  const deciding = status === 'pass' ? items : items.filter((i) => i.status === status);
  return { status, observed: deciding.map((i) => i.shown), expected };
}

function simple(kind: string, key: string, want: boolean, expected: string, procedures: string[]): CheckDef {
  return {
    procedures,
    applies: (input) => ofKind(input, kind).some((d) => hasPoint(d, key)),
    run: (input) => combine(ofKind(input, kind).filter((d) => hasPoint(d, key)).map((d) => judge(input, `${d.name}.${key}`, (v) => v === want)), expected),
  };
}

/** Mic channels of the room in order, each with its level and (if the profile has one) battery point. */
function micChannels(input: CheckInput): { level: string; battery?: string }[] {
  const out: { level: string; battery?: string }[] = [];
  for (const d of ofKind(input, 'audio'))
    for (const p of d.points) {
      const m = p.id.slice(d.name.length + 1).match(/^mic\.([^.]+)\.level$/);
      if (!m) continue;
      const battery = `${d.name}.mic.${m[1]}.battery`;
      out.push({ level: p.id, battery: d.points.some((q) => q.id === battery) ? battery : undefined });
    }
  return out;
}

/** P10: for vip1 the last `vip1_backup_mics` channels are held as spares; every other channel is in use. */
function splitMics(input: CheckInput) {
  const all = micChannels(input);
  const spares = input.meeting?.level === 'vip1' ? Math.min(input.room.policy.vip1_backup_mics, all.length) : 0;
  return { all, inUse: all.slice(0, all.length - spares), spares: all.slice(all.length - spares) };
}

/** P2/P3: level in [min, max] dBFS; battery at or above minimum where the mic reports one (a wired mic never does). */
function micItems(input: CheckInput, mics: { level: string; battery?: string }[]): Item[] {
  const { min_level_dbfs: lo, max_level_dbfs: hi, min_battery_pct: minBattery } = input.room.policy.mic;
  const items: Item[] = [];
  for (const mic of mics) {
    const level = judge(input, mic.level, (v) => typeof v === 'number' && v >= lo && v <= hi, ' dBFS');
    // A channel under test, unmuted, on a DSP that is answering, yet reporting no level: the
    // mic is dead (P2). Silence is evidence here, not a missing reading, so it fails.
    if (level.status === 'unknown' && underTest(input, mic.level)) items.push({ id: mic.level, status: 'fail', shown: `${mic.level}: no signal under test` });
    else if (level.status === 'fail') {
      const v = input.state.get(input.room.id, mic.level)?.value;
      items.push({ ...level, shown: `${mic.level}=${v} dBFS: level too ${typeof v === 'number' && v < lo ? 'low' : 'high'}` });
    } else items.push(level);
    if (!mic.battery) continue;
    const b = input.state.get(input.room.id, mic.battery);
    if (!b || (b.ts === 0 && b.value === null)) continue; // never reported: no battery on this channel
    const battery = judge(input, mic.battery, (v) => typeof v === 'number' && v >= minBattery, '%');
    items.push(battery.status === 'fail' ? { ...battery, shown: `${battery.shown}: battery low` } : battery);
  }
  return items;
}

/** The channel's test is running and it is unmuted, both freshly reported by the DSP. */
function underTest(input: CheckInput, levelId: string): boolean {
  const base = levelId.slice(0, -'.level'.length);
  const test = input.state.get(input.room.id, `${base}.test`);
  const mute = input.state.get(input.room.id, `${base}.mute`);
  return test?.quality === 'good' && test.value === true && mute?.quality === 'good' && mute.value === false;
}

function micExpected(input: CheckInput): string {
  const m = input.room.policy.mic;
  return `level ${m.min_level_dbfs}…${m.max_level_dbfs} dBFS, battery ≥ ${m.min_battery_pct}%`;
}

/** CO2 sources: room air-quality sensors, and a fresh-air unit's duct sensor unless it reads 0 ("not fitted"). */
function co2Points(input: CheckInput): string[] {
  const out = ofKind(input, 'air_quality').filter((d) => hasPoint(d, 'co2')).map((d) => `${d.name}.co2`);
  for (const d of ofKind(input, 'fresh_air').filter((x) => hasPoint(x, 'co2'))) {
    const s = input.state.get(input.room.id, `${d.name}.co2`);
    if (s?.quality === 'good' && s.value === 0) continue;
    if (s && s.ts === 0 && s.value === null) continue; // never reported
    out.push(`${d.name}.co2`);
  }
  return out;
}

/** Temperature sources: the HVAC units' room sensors, else room air-quality sensors. */
function temperaturePoints(input: CheckInput): string[] {
  const hvac = ofKind(input, 'hvac').filter((d) => hasPoint(d, 'temperature'));
  const from = hvac.length > 0 ? hvac : ofKind(input, 'air_quality').filter((d) => hasPoint(d, 'temperature'));
  return from.map((d) => `${d.name}.temperature`);
}

/** Target light points: the meeting scene's writes to lighting devices (P4), else every zone on. */
function lightTargets(input: CheckInput): { id: string; value: PointValue }[] {
  const lighting = new Set(ofKind(input, 'lighting').map((d) => d.name));
  const scene = input.room.scenes[input.room.policy.meeting_scene];
  const fromScene = (scene?.steps ?? []).flatMap((s) => ('set' in s && lighting.has(s.set.split('.')[0]!) ? [{ id: s.set, value: s.value }] : []));
  if (fromScene.length > 0) return fromScene;
  return ofKind(input, 'lighting').flatMap((d) => d.points.filter((p) => p.id.endsWith('.on')).map((p) => ({ id: p.id, value: true as PointValue })));
}

export const CHECKS: Record<CheckName, CheckDef> = {
  devices_online: {
    procedures: ['P4', 'P14'],
    applies: (input) => input.room.devices.some((d) => d.required),
    run: (input) => {
      // Online if the adapter says so, or (devices without an availability topic) any point is fresh;
      // healthy if it also does not report a fault of its own (a unit that says it is broken is not ready).
      const items: Item[] = input.room.devices
        .filter((d) => d.required)
        .map((d) => {
          const online = input.state.deviceHealth(input.room.id, d.name)?.online === true || d.points.some((p) => input.state.get(input.room.id, p.id)?.quality === 'good');
          if (!online) return { id: d.name, status: 'fail', shown: `${d.name}: offline` };
          const faults = faultsReported(input, d);
          if (faults.length > 0) return { id: d.name, status: 'fail', shown: `${d.name}: fault (${faults.join(', ')})` };
          return { id: d.name, status: 'pass', shown: `${d.name}: online` };
        });
      return combine(items, 'every required device online, none reporting a fault');
    },
  },
  temperature_in_band: {
    procedures: ['P5', 'P4', 'P6'],
    applies: (input) => temperaturePoints(input).length > 0,
    run: (input) => {
      const [lo, hi] = input.room.policy.comfort_c[input.season];
      const items = temperaturePoints(input).map((id) => judge(input, id, (v) => typeof v === 'number' && v >= lo && v <= hi, ' °C'));
      return combine(items, `${lo}–${hi} °C (${input.season})`);
    },
  },
  lights_scene: {
    procedures: ['P4'],
    applies: (input) => ofKind(input, 'lighting').length > 0,
    run: (input) => {
      const targets = lightTargets(input);
      const items = targets.map((t) => judge(input, t.id, (v) => (typeof t.value === 'number' && typeof v === 'number' ? Math.abs(v - t.value) <= LEVEL_TOLERANCE : v === t.value)));
      return combine(items, `${input.room.policy.meeting_scene}: ${targets.map((t) => `${t.id}=${t.value}`).join(', ')}`);
    },
  },
  mic_test: {
    procedures: ['P2', 'P3'],
    applies: (input) => splitMics(input).inUse.length > 0,
    run: (input) => combine(micItems(input, splitMics(input).inUse), micExpected(input)),
  },
  backup_mics: {
    procedures: ['P10'],
    applies: (input) => input.meeting?.level === 'vip1' && input.room.policy.vip1_backup_mics > 0 && ofKind(input, 'audio').length > 0,
    run: (input) => {
      const { all, inUse, spares } = splitMics(input);
      const need = input.room.policy.vip1_backup_mics;
      const expected = `${need} spare mic(s) beyond those in use, each passing: ${micExpected(input)}`;
      if (inUse.length === 0 || spares.length < need) return { status: 'fail', observed: `${all.length} mic channel(s) in the room`, expected };
      return combine(micItems(input, spares), expected);
    },
  },
  audio_unmuted: simple('audio', 'master.mute', false, 'master mute off', ['P2', 'P3']),
  display_on: simple('display', 'power', true, 'display on', ['P2']),
  door_unlocked: simple('door', 'locked', false, 'door unlocked', ['P4']),
  fresh_air_on: simple('fresh_air', 'power', true, 'fresh air on', ['P16']),
  co2_below_max: {
    procedures: ['P16'],
    applies: (input) => co2Points(input).length > 0,
    run: (input) => {
      const max = input.room.policy.co2_max_ppm;
      return combine(co2Points(input).map((id) => judge(input, id, (v) => typeof v === 'number' && v <= max, ' ppm')), `CO2 ≤ ${max} ppm`);
    },
  },
};

/** Which checks each step runs (those that apply to the room are kept). */
const FULL: CheckName[] = ['devices_online', 'temperature_in_band', 'lights_scene', 'display_on', 'door_unlocked', 'mic_test', 'backup_mics', 'audio_unmuted', 'fresh_air_on', 'co2_below_max'];
export const STEP_CHECKS = {
  av_on: ['devices_online', 'display_on', 'mic_test', 'audio_unmuted', 'fresh_air_on'], // P2, P16
  vip_check: FULL, // P10–P12
  ready: FULL, // P4
  final_sound: ['mic_test', 'backup_mics', 'audio_unmuted'], // P3
  session_start: FULL, // the verdict at start
  monitor: ['devices_online', 'temperature_in_band', 'co2_below_max'], // P6
} satisfies Record<string, CheckName[]>;
export type CheckSet = keyof typeof STEP_CHECKS;

/** The checks of a set that apply to this room and meeting. */
export function applicableChecks(set: CheckSet | CheckName[], input: CheckInput): CheckName[] {
  const names = Array.isArray(set) ? set : STEP_CHECKS[set];
  return names.filter((n) => CHECKS[n].applies(input));
}

export function runCheck(name: CheckName, input: CheckInput): CheckResult {
  return CHECKS[name].run(input);
}

/** Runs the applicable checks of a set and returns them as bus-ready outcomes (no title or organizer: P15). */
export function runChecks(set: CheckSet | CheckName[], input: CheckInput, meta: { ts: number; step?: string }): CheckOutcome[] {
  return applicableChecks(set, input).map((check) => {
    const r = runCheck(check, input);
    const o: CheckOutcome = { room: input.room.id, check, status: r.status, observed: r.observed, expected: r.expected, ts: meta.ts };
    if (input.meeting) Object.assign(o, { meetingId: input.meeting.id, level: input.meeting.level });
    if (meta.step) o.step = meta.step;
    return o;
  });
}
