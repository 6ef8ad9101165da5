import type { DeviceKind } from './kind-contracts.ts';

/**
 * Names in a points list → the names roomctl uses. An integrator writes "FCU-3",
 * "Room temp", "On/Off", "Mic 2 level"; the engine looks for kind `hvac` and the
 * points `temperature`, `power`, `mic.2.level` (kind-contracts.ts). These tables are
 * the spellings seen in real lists; a point name that matches none keeps a key made
 * from its own words (recorded, shown, but not used by the engine), and a device whose
 * kind cannot be told is reported rather than guessed.
 */

/** Lower-case words of a name: "FCU-3 Room Temp." → ["fcu", "3", "room", "temp"]. */
const same = (spelling: string, phrase: string) => words(spelling).join(' ') === phrase;

export const words = (s: string) =>
  s
    .toLowerCase()
    .replace(/([a-z])(\d)/g, '$1 $2')
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

const KIND_WORDS: [DeviceKind, string[]][] = [
  ['hvac', ['hvac', 'fcu', 'fan coil', 'fancoil', 'fan coil unit', 'ac', 'air conditioner', 'aircon', 'vrf', 'indoor unit', 'thermostat']],
  ['fresh_air', ['fresh air', 'fresh air unit', 'fau', 'pau', 'ahu', 'erv', 'hrv', 'ventilation', 'fresh_air']],
  ['lighting', ['lighting', 'lights', 'light', 'lamp', 'lamps', 'dali', 'dimmer']],
  ['audio', ['audio', 'dsp', 'microphones', 'mics', 'conference audio', 'sound']],
  ['door', ['door', 'door lock', 'access control']],
  ['occupancy', ['occupancy', 'presence', 'people counter', 'occupancy sensor', 'pir']],
  ['display', ['display', 'projector', 'screen', 'tv', 'monitor', 'led wall']],
  ['boiler', ['boiler', 'water boiler', 'water heater', 'urn']],
  ['window', ['window', 'window contact']],
  ['air_quality', ['air quality', 'air_quality', 'iaq', 'co2 sensor', 'co2', 'environment sensor']],
  ['fire_alarm', ['fire alarm', 'fire_alarm', 'fire']],
];

/** A kind named in a Kind column ("FCU", "fresh air", "hvac"), or undefined. */
export function kindFromColumn(value: string): DeviceKind | undefined {
  const w = words(value).join(' ');
  return KIND_WORDS.find(([, names]) => names.some((n) => words(n).join(' ') === w))?.[0];
}

/** The kinds a device name suggests ("FCU-3" → hvac; "Lights" → lighting); several = ambiguous. */
export function kindsFromName(name: string): DeviceKind[] {
  const w = ` ${words(name).join(' ')} `;
  return KIND_WORDS.filter(([, names]) => names.some((n) => w.includes(` ${words(n).join(' ')} `))).map(([k]) => k);
}

/** The kinds the point names point at, when the name says nothing (a setpoint → hvac, "Mic 1 level" → audio). */
export function kindsFromPoints(pointNames: string[]): DeviceKind[] {
  const all = pointNames.map((p) => ` ${words(p).join(' ')} `);
  const has = (re: RegExp) => all.some((p) => re.test(p));
  const kinds: DeviceKind[] = [];
  if (has(/ (setpoint|set point) /)) kinds.push('hvac');
  if (has(/ (mic|microphone) \d+ /)) kinds.push('audio');
  if (has(/ lock(ed)? /)) kinds.push('door');
  if (has(/ (presence|occupied|people count|headcount) /)) kinds.push('occupancy');
  if (has(/ fire /)) kinds.push('fire_alarm');
  return kinds;
}

const POWER = ['power', 'on off', 'onoff', 'run stop', 'start stop', 'run command', 'enable', 'run', 'switch', 'unit on off', 'on'];
const TEMPERATURE = ['temperature', 'temp', 'room temperature', 'room temp', 'space temperature', 'space temp', 'zone temperature', 'zone temp', 'return air temperature', 'return temperature', 'return temp', 'actual temperature'];

/** Per kind: canonical point key ← spellings (compared as lower-case words). */
const POINT_WORDS: Partial<Record<DeviceKind, Record<string, string[]>>> = {
  hvac: {
    temperature: TEMPERATURE,
    setpoint: ['setpoint', 'set point', 'temperature setpoint', 'temp setpoint', 'sp', 'set temperature', 'set temp', 'target temperature'],
    power: POWER,
    mode: ['mode', 'operating mode', 'operation mode', 'op mode', 'heat cool mode', 'system mode'],
    fan_speed: ['fan speed', 'fan', 'fan mode'],
    valve: ['valve', 'valve position', 'valve opening', 'chw valve'],
    fault: ['fault', 'general fault', 'trip', 'unit fault', 'fault status'],
    run_hours: ['run hours', 'running hours', 'hours run'],
  },
  fresh_air: {
    power: POWER,
    speed: ['speed', 'fan speed', 'supply fan speed'],
    co2: ['co2', 'duct co2', 'return co2'],
    supply_temperature: ['supply temperature', 'supply air temperature', 'supply temp', 'sat'],
    airflow: ['airflow', 'air flow', 'flow'],
    filter_alarm: ['filter alarm', 'dirty filter', 'filter', 'filter dirty'],
    fault: ['fault', 'general fault', 'trip'],
  },
  display: { power: POWER, input: ['input', 'source', 'input source'] },
  boiler: { power: POWER, water_temperature: ['water temperature', 'water temp', 'temperature', 'temp'] },
  door: {
    contact: ['contact', 'door contact', 'door status', 'door position', 'status', 'open closed', 'door'],
    locked: ['lock', 'locked', 'door lock', 'lock status', 'lock state', 'lock command'],
  },
  window: { contact: ['contact', 'window contact', 'window', 'status', 'open closed', 'window status'] },
  occupancy: {
    present: ['presence', 'present', 'occupied', 'occupancy', 'occupancy status'],
    count: ['count', 'people count', 'people', 'headcount', 'occupants', 'person count'],
  },
  air_quality: { co2: ['co2', 'carbon dioxide'], humidity: ['humidity', 'rh', 'relative humidity'], temperature: TEMPERATURE },
  fire_alarm: { active: ['active', 'alarm', 'fire alarm', 'fire'] },
};

const LIGHT_ON = ['on', 'on off', 'onoff', 'switch', 'power'];
const LIGHT_LEVEL = ['level', 'dim', 'dim level', 'dimming', 'brightness', 'dimmer'];
const LIGHT_NOISE = new Set(['light', 'lights', 'lighting', 'zone', 'circuit']);
const MIC_PART: Record<string, string> = { level: 'level', mute: 'mute', battery: 'battery', test: 'test' };

/**
 * The point key for a point name of a device of `kind`: `hvac` "Room temp" →
 * `temperature`, `lighting` "Board dim" → `board.level`, `audio` "Mic 2 mute" →
 * `mic.2.mute`. The device's own name is dropped from the front ("FCU-3 Setpoint").
 * Otherwise the name's words joined by `_` ("Filter hours" → `filter_hours`).
 */
export function pointKeyOf(kind: DeviceKind, pointName: string, deviceName: string): string {
  let w = words(pointName);
  const prefix = words(deviceName);
  if (prefix.length > 0 && prefix.every((p, i) => w[i] === p) && w.length > prefix.length) w = w.slice(prefix.length);
  const phrase = w.join(' ');
  if (kind === 'lighting') {
    for (const [list, key] of [[LIGHT_LEVEL, 'level'], [LIGHT_ON, 'on']] as const)
      for (const s of list.map((x) => words(x).join(' ')).sort((a, b) => b.length - a.length)) {
        if (phrase !== s && !phrase.endsWith(` ${s}`)) continue;
        const zone = words(phrase.slice(0, phrase.length - s.length)).filter((x) => !LIGHT_NOISE.has(x));
        // A light with no zone name is zone `main`, as the built-in lighting profile has it.
        return `${zone.length ? zone.join('_') : 'main'}.${key}`;
      }
  }
  if (kind === 'audio') {
    const mic = /^(?:mic|microphone|channel|ch) (\d+) (level|mute|battery|test)$/.exec(phrase);
    if (mic) return `mic.${mic[1]}.${MIC_PART[mic[2]!]}`;
    if (['master mute', 'mute', 'program mute', 'main mute'].some((s) => same(s, phrase))) return 'master.mute';
  }
  for (const [key, spellings] of Object.entries(POINT_WORDS[kind] ?? {})) if (spellings.some((s) => same(s, phrase))) return key;
  return w.join('_');
}
