import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap } from 'yaml';
import { configSchema, roomSchema, deviceSchema, gatewaySchema, mqttSchema, apiSchema, type RoomConfig, type SiteConfig, type SceneConfig, type DeviceConfig, type GatewayConfig, type MqttConfig, type ApiConfig } from './schema.ts';
import { policyFields, resolvePolicies, type Policy, type PolicyInput } from './policy-schema.ts';
import { formatProblem, problemsFromZod, type ConfigProblem } from './issues.ts';
import { substituteEnv } from './env.ts';
import { siteProfiles, hint } from './site-profiles.ts';
import { checkDevice, checkScenes, UnknownRefs } from './room-checks.ts';
import { rawSection, writtenNames, WrittenNames, type Written } from './written.ts';
import type { DeviceProfile } from './profile-schema.ts';
import { resolveDevice, type ResolvedDevice } from '../model/devices.ts';
import { fullYaml, quickYaml, type YamlDocument } from './yaml-text.ts';

export interface Room {
  id: string;
  name: string;
  capacity: number;
  floor?: string | number;
  policy: Policy;
  devices: ResolvedDevice[];
  scenes: Record<string, SceneConfig>;
}

export interface Site {
  config: SiteConfig;
  rooms: Room[];
  policies: Map<string, Policy>;
  profiles: Map<string, DeviceProfile>;
}

export interface ConfigLoad {
  /** Present unless a problem outside the rooms (or in every room) makes the file unusable. */
  site?: Site;
  /** Every problem, formatted `path: message`, in file order: `unlocated` first, then `problems`. */
  errors: string[];
  /** The site file's problems with their path and line, in file order. */
  problems: ConfigProblem[];
  /** Problems not at a path of the site file, as printed: a profile file's (`file: path: message`), a YAML syntax error, an unreadable file. */
  unlocated: string[];
  /**
   * What works, with less: a profile without a point the engine can use (`profile
   * fcu-x: no point mode: no heat/cool switching …`), a broken profile no device of
   * this site names.
   */
  warnings: string[];
  /** Rooms and devices that start would skip because of those errors. */
  skipped: string[];
  /** What `validate` cross-checks, also when the file as a whole is unusable; absent after a YAML error. */
  parts?: LoadedParts;
}

/** A device that could be resolved, with where it is written. */
export interface CheckedDevice {
  index: number;
  config: DeviceConfig;
  device: ResolvedDevice;
}

/** A room as far as it could be read: a loaded room, or the usable parts of an invalid one. */
export interface CheckedRoom {
  index: number;
  /** A room of the site (start runs it); false: the entry has problems of its own. */
  loaded: boolean;
  id?: string;
  capacity?: number;
  policyName?: string;
  policy?: Policy;
  devices: CheckedDevice[];
  scenes: Record<string, SceneConfig>;
}

export interface LoadedParts {
  rooms: CheckedRoom[];
  gateways: { index: number; gateway: GatewayConfig }[];
  written: Written;
  policyInputs: Record<string, PolicyInput>;
  /** The raw `simulation:` section (validated by its own checks). */
  simulation: unknown;
  /** Each parsed on its own, so a mistake elsewhere does not hide their checks. */
  mqtt?: MqttConfig;
  api?: ApiConfig;
  lineOf(path: (string | number)[]): number | undefined;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** The built-in profiles folder (default devices/profiles/ of the installation). */
  profilesDir?: string;
  /** Where a relative `profiles_dir` is found: the config file's folder (loadConfigFile sets it); default the working directory. */
  baseDir?: string;
}

const unusable = (errors: string[]): ConfigLoad => ({ errors, problems: [], unlocated: errors, warnings: [], skipped: [] });

export function loadConfigFile(file: string, options: LoadOptions = {}): ConfigLoad {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return unusable([`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  return loadConfigText(text, { baseDir: dirname(resolve(file)), ...options });
}

export function loadConfigText(text: string, options: LoadOptions = {}): ConfigLoad {
  const env = options.env ?? process.env;
  // The yaml document (lines, YAML errors) only when needed: see yaml-text.ts.
  let full: YamlDocument | undefined;
  const document = () => (full ??= fullYaml(text));
  const quick = quickYaml(text);
  let js: unknown;
  if (quick) js = quick.value;
  else {
    const { doc } = document();
    if (doc.errors.length > 0)
      return unusable(
        doc.errors.map((e) => {
          const pos = e.linePos?.[0];
          return `YAML${pos ? ` line ${pos.line}, column ${pos.col}` : ''}: ${e.message.split('\n')[0]}`;
        }),
      );
    js = doc.toJS({ maxAliasCount: 10_000 }) as unknown;
  }
  const envProblems: ConfigProblem[] = [];
  // Top-level keys starting with `x-` only hold YAML anchors for reuse (the docker
  // compose convention); they are not configuration and are dropped before validation.
  if (js && typeof js === 'object' && !Array.isArray(js)) for (const k of Object.keys(js)) if (k.startsWith('x-')) delete (js as Record<string, unknown>)[k];
  // Without a "${" anywhere there is nothing to substitute, and no copy of the whole tree to make.
  const raw = text.includes('${') ? substituteEnv(js, env, envProblems) : js;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return unusable(['(top level): expected a mapping with site, rooms, …']);

  const shell = configSchema.safeParse(raw, { reportInput: true });
  const problems: ConfigProblem[] = shell.success ? [] : problemsFromZod(shell.error, [], configSchema);

  const written = writtenNames(raw, { config: configSchema, gateway: gatewaySchema, room: roomSchema, device: deviceSchema });
  const profiles = siteProfiles(raw as Record<string, unknown>, options, problems);
  // When the file as a whole fails, its sections are still read entry by entry, so a
  // mistake in one policy or gateway does not make every room that names it fail too.
  const policyInputs = shell.success ? shell.data.policies : salvagePolicies(raw);
  const policyProblems: ConfigProblem[] = [];
  const policies = resolvePolicies(policyInputs, policyProblems);
  problems.push(...policyProblems);
  const gateways = shell.success ? shell.data.modbus.gateways.map((gateway, index) => ({ index, gateway })) : salvageGateways(raw);
  const gatewayConfigs = gateways.map((g) => g.gateway);

  const unknown = new UnknownRefs();
  const skipped: string[] = [];
  const siteRooms: Room[] = [];
  const checked: CheckedRoom[] = [];
  const rooms: RoomConfig[] = [];
  const seenIds = new Map<string, number>();
  const roomInputs = Array.isArray((raw as { rooms?: unknown }).rooms) ? (raw as { rooms: unknown[] }).rooms : [];
  roomInputs.forEach((input, i) => {
    const at = (...p: (string | number)[]) => ['rooms', i, ...p];
    const roomDevices = written.roomDevices.get(i) ?? new WrittenNames();
    const r = roomSchema.safeParse(input, { reportInput: true });
    const checkPolicy = (name: string) => {
      const policy = policies.get(name);
      if (!policy && written.policies.unknown(name)) unknown.add('policy', name, at('policy'), `unknown policy "${name}"${hint(name, [...policies.keys()])}`);
      return policy;
    };
    if (!r.success) {
      problems.push(...problemsFromZod(r.error, ['rooms', i], roomSchema));
      skipped.push(`rooms[${i}]: invalid`);
      // The room is unusable, but its well-formed parts can still be checked, so one
      // run of `validate` shows every mistake rather than one layer at a time.
      checked.push(salvageRoom(input, i, { at, roomDevices, checkPolicy, check: (device, dp) => checkDevice(device, dp, profiles, gatewayConfigs, written.gateways, unknown, problems), gateways: gatewayConfigs, problems }));
      return;
    }
    const room = r.data;
    const before = seenIds.get(room.id);
    if (before !== undefined) {
      problems.push({ path: at('id'), message: `duplicate room id "${room.id}" (also rooms[${before}])` });
      skipped.push(`room ${room.id} (rooms[${i}]): duplicate id`);
      return;
    }
    seenIds.set(room.id, i);
    rooms.push(room);
    const policy = checkPolicy(room.policy);
    const devices: CheckedDevice[] = [];
    const names = new Set<string>();
    room.devices.forEach((device, d) => {
      const dp = (...p: (string | number)[]) => at('devices', d, ...p);
      if (names.has(device.name)) {
        problems.push({ path: dp('name'), message: `duplicate device name "${device.name}" in room ${room.id}` });
        skipped.push(`device ${room.id}/${device.name}: duplicate name`);
        return;
      }
      names.add(device.name);
      const profile = checkDevice(device, dp, profiles, gatewayConfigs, written.gateways, unknown, problems);
      if (!profile) {
        skipped.push(`device ${room.id}/${device.name}`);
        return;
      }
      devices.push({ index: d, config: device, device: resolveDevice(room.id, device, profile, gatewayConfigs) });
    });
    const resolved = devices.map((d) => d.device);
    checkScenes(room, resolved, roomDevices, at, problems);
    siteRooms.push({ id: room.id, name: room.name, capacity: room.capacity, floor: room.floor, policy: policy ?? policies.get('default')!, devices: resolved, scenes: room.scenes });
    checked.push({ index: i, loaded: true, id: room.id, capacity: room.capacity, policyName: room.policy, policy, devices, scenes: room.scenes });
  });

  problems.push(...unknown.problems());
  // A variable in the value of a misspelt key is not a second mistake: the key is.
  const unknownKeys = problems.filter((p) => p.message.startsWith('unknown key')).map((p) => p.path);
  problems.push(...envProblems.filter((e) => !unknownKeys.some((k) => k.every((part, i) => e.path[i] === part))));
  for (const p of problems) p.line = lineOf(document(), p.path);
  // File order reads best: an engineer fixes them top to bottom.
  const ordered = problems.map((p, i) => ({ p, i })).sort((a, b) => (a.p.line ?? 0) - (b.p.line ?? 0) || a.i - b.i).map((x) => x.p);
  const unlocated = profiles.errors();
  const errors = [...unlocated, ...ordered.map(formatProblem)];
  const warnings = profiles.warnings();
  const rawOf = (key: string) => rawSection(raw, [key], configSchema);
  const mqtt = mqttSchema.safeParse(rawOf('mqtt') ?? {});
  const api = apiSchema.safeParse(rawOf('api') ?? {});
  const parts: LoadedParts = {
    rooms: checked,
    gateways,
    written,
    policyInputs,
    simulation: rawOf('simulation'),
    mqtt: mqtt.success ? mqtt.data : undefined,
    api: api.success ? api.data : undefined,
    lineOf: (path) => lineOf(document(), path),
  };
  const load: ConfigLoad = { errors, problems: ordered, unlocated, warnings, skipped, parts };
  if (!shell.success || siteRooms.length === 0) return load;
  const config: SiteConfig = { ...shell.data, rooms };
  return { ...load, site: { config, rooms: siteRooms, policies, profiles: profiles.catalog.profiles } };
}

/** The policies that parse on their own; one with problems stands in as the defaults, so names and `extends` still resolve. */
function salvagePolicies(raw: unknown): Record<string, PolicyInput> {
  const section = rawSection(raw, ['policies'], configSchema);
  if (!section || typeof section !== 'object' || Array.isArray(section)) return {};
  return Object.fromEntries(Object.entries(section).map(([name, input]) => {
    const p = policyFields.safeParse(input);
    const parent = (input as { extends?: unknown } | null)?.extends;
    return [name, p.success ? p.data : typeof parent === 'string' ? { extends: parent } : {}];
  }));
}

/** The gateways that parse on their own, with their index in the file. */
function salvageGateways(raw: unknown): LoadedParts['gateways'] {
  const list = rawSection(raw, ['modbus', 'gateways'], configSchema);
  if (!Array.isArray(list)) return [];
  return list.flatMap((input, index) => {
    const g = gatewaySchema.safeParse(input);
    return g.success ? [{ index, gateway: g.data }] : [];
  });
}

interface Salvage {
  at: (...p: (string | number)[]) => (string | number)[];
  roomDevices: WrittenNames;
  checkPolicy(name: string): Policy | undefined;
  check(device: DeviceConfig, dp: (...p: (string | number)[]) => (string | number)[]): DeviceProfile | undefined;
  gateways: GatewayConfig[];
  problems: ConfigProblem[];
}

/** The parts of an invalid room entry that can be read: its policy, its well-formed devices, and its scenes against them. */
function salvageRoom(input: unknown, i: number, s: Salvage): CheckedRoom {
  const entry = (input && typeof input === 'object' && !Array.isArray(input) ? input : {}) as Record<string, unknown>;
  const field = <T>(key: keyof typeof roomSchema.shape): T | undefined => {
    const f = roomSchema.shape[key].safeParse(entry[key]);
    return f.success ? (f.data as T) : undefined;
  };
  const id = field<string>('id');
  const policyName = field<string>('policy');
  const policy = policyName === undefined ? undefined : s.checkPolicy(policyName);
  const devices: CheckedDevice[] = [];
  const rawDevices = entry.devices;
  const names = new Set<string>();
  if (Array.isArray(rawDevices))
    rawDevices.forEach((rawDevice, d) => {
      const dev = deviceSchema.safeParse(rawDevice);
      if (!dev.success) return;
      if (names.has(dev.data.name)) {
        s.problems.push({ path: s.at('devices', d, 'name'), message: `duplicate device name "${dev.data.name}" in room ${id ?? `rooms[${i}]`}` });
        return;
      }
      names.add(dev.data.name);
      const profile = s.check(dev.data, (...p) => s.at('devices', d, ...p));
      if (profile) devices.push({ index: d, config: dev.data, device: resolveDevice(id ?? `rooms[${i}]`, dev.data, profile, s.gateways) });
    });
  const scenes = field<Record<string, SceneConfig>>('scenes') ?? {};
  checkScenes({ id: id ?? `rooms[${i}]`, scenes }, devices.map((d) => d.device), s.roomDevices, s.at, s.problems);
  return { index: i, loaded: false, id, capacity: field<number>('capacity'), policyName, policy, devices, scenes };
}

/** Line of the deepest node of a path that exists in the YAML document. */
function lineOf({ doc, lines }: YamlDocument, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && node.range) {
      // A map key that does not exist yet points at its parent; fine for orientation.
      return lines.linePos(node.range[0]).line;
    }
    if (n > 0 && isMap(doc.getIn(path.slice(0, n - 1), true))) continue;
  }
  return undefined;
}
