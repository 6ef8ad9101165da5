import type { DeviceProfile, PointDef } from './profile-schema.ts';

/**
 * What the engine reads and writes of each device kind, found by point key (engine/
 * intent/room-points.ts, readiness/checks.ts, reconcile/interlocks.ts, jobs/). A
 * profile is data, so nothing stops it from naming its points otherwise; this table
 * is the engine's side of the bargain written down, so `validate` can say so instead
 * of the engine silently doing nothing (an FCU without `setpoint` is never
 * pre-conditioned) or failing at every meeting (a `mode` that has no `auto`).
 *
 * - `needs`: without the point the device is useless to the engine: an error, and
 *   the devices using the profile are skipped.
 * - `uses`: the engine does more with it; without it validate warns what it will not do.
 * - `oneOf`: at least one of these rules must be met (an occupancy sensor gives
 *   presence or a count).
 * A rule that matches a point of the wrong type, write access or values is an error
 * either way: the engine would write or compare values the point cannot hold.
 * Keys are profile point keys; `*` stands for characters within one segment, so
 * `*.on` matches `{zone}.on` and `main.on`.
 */
export type DeviceKind = DeviceProfile['kind'];

export interface PointRule {
  key: string | string[];
  type: PointDef['type'];
  writable?: boolean;
  /** Enum values the engine writes or compares against. */
  values?: string[];
  /** What the engine does with the point (needed) or will not do without it (used). */
  why: string;
}

interface KindContract {
  needs?: PointRule[];
  oneOf?: { rules: PointRule[]; why: string };
  uses?: PointRule[];
}

export const KIND_CONTRACTS: Record<DeviceKind, KindContract> = {
  hvac: {
    needs: [
      { key: 'power', type: 'boolean', writable: true, why: 'switched on for pre-conditioning (P5) and off at closing (P7/P8)' },
      { key: 'setpoint', type: 'number', writable: true, why: 'set to the comfort band for pre-conditioning (P5) and to setback after (P7)' },
    ],
    uses: [
      { key: 'temperature', type: 'number', why: 'no temperature_in_band check from this unit and no optimal-start learning (P5); an air_quality sensor can stand in' },
      { key: 'mode', type: 'enum', writable: true, values: ['heat', 'cool', 'auto'], why: 'no heat/cool switching: the unit keeps the mode set at the plant' },
    ],
  },
  fresh_air: {
    needs: [{ key: 'power', type: 'boolean', writable: true, why: 'switched on from the AV step (P16), checked by fresh_air_on, off at closing' }],
    uses: [
      { key: 'speed', type: 'enum', writable: true, values: ['medium', 'high'], why: 'no higher airflow for crowded meetings (P16)' },
      { key: 'co2', type: 'number', why: 'no duct CO2 reading for co2_below_max (room sensors still count)' },
    ],
  },
  lighting: {
    needs: [{ key: ['on', '*.on'], type: 'boolean', writable: true, why: 'every zone is switched by its `on` (or `<zone>.on`) point for the meeting scene (P4) and at closing' }],
    uses: [{ key: ['level', '*.level'], type: 'number', writable: true, why: 'no dimming: scenes can only switch zones' }],
  },
  audio: {
    uses: [
      { key: 'mic.*.level', type: 'number', why: 'no microphone tests (P2 at T-30, P3 at T-5)' },
      { key: 'mic.*.test', type: 'boolean', writable: true, why: 'no test tone: a mic shows a level only when someone speaks' },
      { key: 'mic.*.mute', type: 'boolean', writable: true, why: 'microphones are not unmuted for the meeting nor muted at closing' },
      { key: 'master.mute', type: 'boolean', writable: true, why: 'no audio_unmuted check and no master unmute/mute' },
    ],
  },
  display: { needs: [{ key: 'power', type: 'boolean', writable: true, why: 'switched on from the AV step (P2), checked by display_on, off at closing' }] },
  door: {
    uses: [
      { key: 'locked', type: 'boolean', writable: true, why: 'the door is neither unlocked for meetings nor locked at closing' },
      { key: 'contact', type: 'enum', values: ['open', 'closed'], why: 'no door_closed check at closing; a lock is sent without knowing the door is shut' },
    ],
  },
  occupancy: {
    oneOf: {
      rules: [
        { key: 'present', type: 'boolean', why: '' },
        { key: 'count', type: 'number', why: '' },
      ],
      why: 'presence guards door locking and detects no-shows (P15)',
    },
  },
  fire_alarm: { needs: [{ key: 'active', type: 'boolean', why: 'while it is active (or unknown) no door is locked' }] },
  window: { needs: [{ key: 'contact', type: 'enum', values: ['open', 'closed'], why: 'checked by window_closed at closing' }] },
  air_quality: {
    oneOf: {
      rules: [
        { key: 'co2', type: 'number', why: '' },
        { key: 'temperature', type: 'number', why: '' },
      ],
      why: 'CO2 feeds co2_below_max (P16); temperature stands in for a room without an HVAC sensor',
    },
  },
  boiler: { needs: [{ key: 'power', type: 'boolean', writable: true, why: 'switched on at opening (P1) and off at the end-of-day sweep (P8)' }] },
};

export interface ContractFindings {
  /** `profile fcu-x: kind hvac needs point setpoint (…)`: the profile cannot be used. */
  errors: string[];
  /** `profile fcu-x: no point mode: no heat/cool switching …`: it works, with less. */
  warnings: string[];
}

const keys = (rule: PointRule) => (Array.isArray(rule.key) ? rule.key : [rule.key]);
const shownKey = (rule: PointRule) => keys(rule).join(' or ');

/** `*` is any run of characters within one segment: `{zone}.on` matches `*.on`, `pump_fault` matches `*_fault`. */
function keyMatches(pattern: string, key: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.^$+?()[\]{}|\\]/g, '\\$&')).join('[^.]+')}$`);
  return re.test(key);
}

function matching(profile: DeviceProfile, rule: PointRule): [string, PointDef][] {
  return Object.entries(profile.points).filter(([key]) => keys(rule).some((pattern) => keyMatches(pattern, key)));
}

function describeRule(rule: PointRule): string {
  const parts: string[] = [rule.type];
  if (rule.writable) parts.push('writable');
  if (rule.values) parts.push(`values ${rule.values.join(', ')}`);
  return parts.join(', ');
}

/** What is wrong with a point that a rule matched, if anything. */
function mismatch(rule: PointRule, def: PointDef): string | undefined {
  if (def.type !== rule.type) return `is ${def.type}, the engine uses it as ${rule.type}`;
  if (rule.writable && !def.writable) return 'is read-only, the engine writes it';
  const missing = (rule.values ?? []).filter((v) => !def.values?.includes(v));
  if (missing.length > 0) return `lacks the value${missing.length > 1 ? 's' : ''} ${missing.join(', ')} that the engine ${rule.writable ? 'writes' : 'compares against'}`;
  return undefined;
}

/** Checks a profile against its kind's contract. */
export function checkKindContract(profile: DeviceProfile): ContractFindings {
  const contract = KIND_CONTRACTS[profile.kind];
  const errors: string[] = [];
  const warnings: string[] = [];
  const who = `profile ${profile.id}: kind ${profile.kind}`;
  const typed = (rule: PointRule) => {
    for (const [key, def] of matching(profile, rule)) {
      const wrong = mismatch(rule, def);
      if (wrong) errors.push(`${who} point ${key} ${wrong} (${rule.why})`);
    }
  };
  for (const rule of contract.needs ?? []) {
    if (matching(profile, rule).length === 0) errors.push(`${who} needs point ${shownKey(rule)} (${describeRule(rule)}): ${rule.why}`);
    else typed(rule);
  }
  if (contract.oneOf) {
    const { rules, why } = contract.oneOf;
    if (!rules.some((r) => matching(profile, r).length > 0)) errors.push(`${who} needs one of the points ${rules.map((r) => `${shownKey(r)} (${describeRule(r)})`).join(', ')}: ${why}`);
    for (const r of rules) typed({ ...r, why });
  }
  for (const rule of contract.uses ?? []) {
    if (matching(profile, rule).length === 0) warnings.push(`profile ${profile.id}: no point ${shownKey(rule)}: ${rule.why}`);
    else typed(rule);
  }
  // Any kind: a point named like a fault flag that the engine will not watch as one.
  for (const [key, def] of Object.entries(profile.points))
    if (profile.kind !== 'fire_alarm' && FLAG_NAME.test(key.split('.').at(-1)!) && !flagKind(profile.kind, key, def)) warnings.push(`profile ${profile.id}: point ${key} is not watched as a fault flag: it must be a read-only boolean`);
  return { errors, warnings };
}

/**
 * A device's own fault and alarm flags, by key: `fault` or `<part>_fault` says the
 * unit is not working (device health: the devices_online check fails, and an alert
 * names it); `alarm` or `<part>_alarm` (a dirty filter) is maintenance: alerted, but
 * the room can still be ready. Boolean, read-only points only. A fire-alarm input's
 * points are the building's alarm, not the device's: never flags.
 */
export type FlagKind = 'fault' | 'alarm';

const FLAG_NAME = /^(.+_)?(fault|alarm)$/;

export function flagKind(kind: DeviceKind, key: string, def: Pick<PointDef, 'type' | 'writable'>): FlagKind | undefined {
  if (kind === 'fire_alarm' || def.type !== 'boolean' || def.writable) return undefined;
  const m = FLAG_NAME.exec(key.split('.').at(-1)!);
  return m ? (m[2] as FlagKind) : undefined;
}
