import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, type Document } from 'yaml';
import { configSchema, roomSchema, deviceSchema, type RoomConfig, type SiteConfig, type SceneConfig, type DeviceConfig, type GatewayConfig } from './schema.ts';
import { resolvePolicies, type Policy } from './policy-schema.ts';
import { formatProblem, problemsFromZod, closest, type ConfigProblem } from './issues.ts';
import { substituteEnv } from './env.ts';
import { loadProfileCatalog, lookupProfile, type ProfileCatalog } from './profiles.ts';
import { checkKindContract, type ContractFindings } from './kind-contracts.ts';
import type { DeviceProfile } from './profile-schema.ts';
import { resolveDevice, type ResolvedDevice } from '../model/devices.ts';

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
  /** Every problem, formatted `path: message`, in file order. */
  errors: string[];
  /**
   * What works, with less: a profile without a point the engine can use (`profile
   * fcu-x: no point mode: no heat/cool switching …`), a broken profile no device of
   * this site names.
   */
  warnings: string[];
  /** Rooms and devices that start would skip because of those errors. */
  skipped: string[];
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** The built-in profiles folder (default devices/profiles/ of the installation). */
  profilesDir?: string;
  /** Where a relative `profiles_dir` is found: the config file's folder (loadConfigFile sets it); default the working directory. */
  baseDir?: string;
}

export function loadConfigFile(file: string, options: LoadOptions = {}): ConfigLoad {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { errors: [`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`], warnings: [], skipped: [] };
  }
  return loadConfigText(text, { baseDir: dirname(resolve(file)), ...options });
}

export function loadConfigText(text: string, options: LoadOptions = {}): ConfigLoad {
  const env = options.env ?? process.env;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `YAML${pos ? ` line ${pos.line}, column ${pos.col}` : ''}: ${e.message.split('\n')[0]}`;
      }),
      warnings: [],
      skipped: [],
    };
  }
  const problems: ConfigProblem[] = [];
  const js = doc.toJS({ maxAliasCount: 10_000 }) as unknown;
  // Top-level keys starting with `x-` only hold YAML anchors for reuse (the docker
  // compose convention); they are not configuration and are dropped before validation.
  if (js && typeof js === 'object' && !Array.isArray(js)) for (const k of Object.keys(js)) if (k.startsWith('x-')) delete (js as Record<string, unknown>)[k];
  const raw = substituteEnv(js, env, problems);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { errors: ['(top level): expected a mapping with site, rooms, …'], warnings: [], skipped: [] };

  const shell = configSchema.safeParse(raw, { reportInput: true });
  if (!shell.success) problems.push(...problemsFromZod(shell.error, [], configSchema));
  const fatal = !shell.success;

  const pendingDeviceChecks: (() => void)[] = [];
  const roomInputs = Array.isArray((raw as { rooms?: unknown }).rooms) ? ((raw as { rooms: unknown[] }).rooms) : [];
  const rooms: RoomConfig[] = [];
  const roomIndex = new Map<RoomConfig, number>();
  roomInputs.forEach((input, i) => {
    const r = roomSchema.safeParse(input, { reportInput: true });
    if (r.success) {
      rooms.push(r.data);
      roomIndex.set(r.data, i);
    } else {
      problems.push(...problemsFromZod(r.error, ['rooms', i], roomSchema));
      // The room is unusable, but its well-formed devices can still be checked, so one
      // run of `validate` shows every mistake rather than one layer at a time.
      const rawDevices = (input as { devices?: unknown })?.devices;
      if (Array.isArray(rawDevices)) rawDevices.forEach((raw, d) => {
        const dev = deviceSchema.safeParse(raw);
        if (dev.success) pendingDeviceChecks.push(() => checkDevice(dev.data, (...p) => ['rooms', i, 'devices', d, ...p], profiles, gateways, problems));
      });
    }
  });

  const profiles = siteProfiles(raw as Record<string, unknown>, options, problems);
  const policyProblems: ConfigProblem[] = [];
  const policies = resolvePolicies(shell.success ? shell.data.policies : {}, policyProblems);
  problems.push(...policyProblems);
  const gateways = shell.success ? shell.data.modbus.gateways : [];
  for (const check of pendingDeviceChecks) check();

  const skipped: string[] = [];
  const siteRooms: Room[] = [];
  const seenIds = new Map<string, number>();
  for (const room of rooms) {
    const i = roomIndex.get(room)!;
    const at = (...p: (string | number)[]) => ['rooms', i, ...p];
    const before = seenIds.get(room.id);
    if (before !== undefined) {
      problems.push({ path: at('id'), message: `duplicate room id "${room.id}" (also rooms[${before}])` });
      skipped.push(`room ${room.id} (rooms[${i}]): duplicate id`);
      continue;
    }
    seenIds.set(room.id, i);
    const policy = policies.get(room.policy);
    if (!policy) problems.push({ path: at('policy'), message: `unknown policy "${room.policy}"${hint(room.policy, [...policies.keys()])}` });
    const devices: ResolvedDevice[] = [];
    const names = new Set<string>();
    room.devices.forEach((device, d) => {
      const dp = (...p: (string | number)[]) => at('devices', d, ...p);
      if (names.has(device.name)) {
        problems.push({ path: dp('name'), message: `duplicate device name "${device.name}" in room ${room.id}` });
        skipped.push(`device ${room.id}/${device.name}: duplicate name`);
        return;
      }
      names.add(device.name);
      const profile = checkDevice(device, dp, profiles, gateways, problems);
      if (!profile) {
        skipped.push(`device ${room.id}/${device.name}`);
        return;
      }
      devices.push(resolveDevice(room.id, device, profile, gateways));
    });
    checkScenes(room, devices, at, problems);
    siteRooms.push({ id: room.id, name: room.name, capacity: room.capacity, floor: room.floor, policy: policy ?? policies.get('default')!, devices, scenes: room.scenes });
  }
  roomInputs.forEach((_, i) => {
    if (!rooms.some((r) => roomIndex.get(r) === i)) skipped.push(`rooms[${i}]: invalid`);
  });

  for (const p of problems) p.line = lineOf(doc, lines, p.path);
  // File order reads best: an engineer fixes them top to bottom.
  const ordered = problems.map((p, i) => ({ p, i })).sort((a, b) => (a.p.line ?? 0) - (b.p.line ?? 0) || a.i - b.i).map((x) => x.p);
  const errors = [...profiles.errors(), ...ordered.map(formatProblem)];
  const warnings = profiles.warnings();
  if (fatal || siteRooms.length === 0 || !shell.success) return { errors, warnings, skipped };
  const config: SiteConfig = { ...shell.data, rooms };
  return { site: { config, rooms: siteRooms, policies, profiles: profiles.catalog.profiles }, errors, warnings, skipped };
}

/**
 * The profiles this site's devices can name (built-in, then `profiles_dir`), and what
 * of them gets reported: a broken file or a kind contract that is not met fails the
 * devices that name the profile; a broken file nobody here names is a warning.
 */
class SiteProfiles {
  private used = new Set<string>();
  private contracts = new Map<string, ContractFindings>();
  constructor(readonly catalog: ProfileCatalog) {}

  /** The profile a device names, or why it cannot have it. */
  use(id: string): { profile: DeviceProfile } | { message: string } {
    this.used.add(id);
    const found = lookupProfile(this.catalog, id);
    if ('problems' in found) return { message: `profile "${id}" cannot be used: its file has problems (listed first)` };
    if ('unknown' in found) return { message: `unknown profile "${id}"${hint(id, [...this.catalog.profiles.keys()])}` };
    return found;
  }

  /** The engine's contract for the profile's kind, checked once per profile. */
  contract(profile: DeviceProfile): ContractFindings {
    let c = this.contracts.get(profile.id);
    if (!c) this.contracts.set(profile.id, (c = checkKindContract(profile)));
    return c;
  }

  private problemsOf(id: string): string[] {
    const found = lookupProfile(this.catalog, id);
    return 'problems' in found ? found.problems : [];
  }

  errors(): string[] {
    return [...this.catalog.folderErrors, ...new Set([...this.used].flatMap((id) => this.problemsOf(id)))];
  }

  warnings(): string[] {
    const reported = new Set(this.errors());
    const unused = [...this.catalog.broken.values(), ...this.catalog.brokenFiles.values()].flat().filter((line) => !reported.has(line));
    const contract = [...this.contracts.values()].flatMap((c) => c.warnings);
    return [...contract, ...new Set(unused.map((line) => `${line} (no device of this site uses it)`))];
  }
}

function siteProfiles(raw: Record<string, unknown>, options: LoadOptions, problems: ConfigProblem[]): SiteProfiles {
  const dir = raw.profiles_dir;
  // A profiles_dir that is not a string is the schema's error; here it only means "no site folder".
  const siteDir = typeof dir === 'string' && dir.length > 0 ? resolve(options.baseDir ?? process.cwd(), dir) : undefined;
  const catalog = loadProfileCatalog({ builtinDir: options.profilesDir, siteDir });
  if (siteDir) {
    const unreadable = catalog.folderErrors.findIndex((e) => e.startsWith(`${siteDir}:`));
    if (unreadable >= 0) {
      problems.push({ path: ['profiles_dir'], message: catalog.folderErrors[unreadable]!.slice(siteDir.length + 2) + ` (${siteDir})` });
      catalog.folderErrors.splice(unreadable, 1);
    }
  }
  return new SiteProfiles(catalog);
}

/** Cross-checks a device against the profiles and gateways; returns its profile when usable. */
function checkDevice(device: DeviceConfig, dp: (...p: (string | number)[]) => (string | number)[], profiles: SiteProfiles, gateways: GatewayConfig[], problems: ConfigProblem[]): DeviceProfile | undefined {
  const found = profiles.use(device.profile);
  if ('message' in found) {
    problems.push({ path: dp('profile'), message: found.message });
    return undefined;
  }
  const profile = found.profile;
  const before = problems.length;
  for (const e of profiles.contract(profile).errors) problems.push({ path: dp('profile'), message: e });
  if (profile.protocol === 'mqtt' && !device.mqtt) problems.push({ path: dp(), message: `profile ${profile.id} is MQTT: give mqtt.base` });
  if (profile.protocol === 'modbus' && !device.modbus) problems.push({ path: dp(), message: `profile ${profile.id} is Modbus: give modbus.unit and gateway or host` });
  if (profile.protocol === 'mqtt' && device.modbus) problems.push({ path: dp('modbus'), message: `profile ${profile.id} is MQTT, not Modbus` });
  if (profile.protocol === 'modbus' && device.mqtt) problems.push({ path: dp('mqtt'), message: `profile ${profile.id} is Modbus, not MQTT` });
  if (device.modbus?.gateway && !gateways.some((g) => g.id === device.modbus!.gateway))
    problems.push({ path: dp('modbus', 'gateway'), message: `unknown gateway "${device.modbus.gateway}"${hint(device.modbus.gateway, gateways.map((g) => g.id))}` });
  for (const ch of Object.keys(device.channels ?? {}))
    if (!profile.channels?.[ch]) problems.push({ path: dp('channels', ch), message: `profile ${profile.id} has no channel "${ch}"${hint(ch, Object.keys(profile.channels ?? {}))}` });
  return problems.length > before ? undefined : profile;
}

function hint(word: string, known: string[]): string {
  const guess = closest(word, known);
  return guess ? ` (did you mean "${guess}"?)` : known.length > 0 && known.length <= 12 ? ` (known: ${known.join(', ')})` : '';
}

function checkScenes(room: RoomConfig, devices: ResolvedDevice[], at: (...p: (string | number)[]) => (string | number)[], problems: ConfigProblem[]) {
  const points = new Map(devices.flatMap((d) => d.points.map((p) => [p.id, { p, kind: d.profile.kind }] as const)));
  for (const [name, scene] of Object.entries(room.scenes)) {
    scene.steps.forEach((step, s) => {
      if (!('set' in step)) return;
      const where = at('scenes', name, 'steps', s, 'set');
      const found = points.get(step.set);
      if (!found) {
        problems.push({ path: where, message: `room ${room.id} has no point "${step.set}"${hint(step.set, [...points.keys()])}` });
        return;
      }
      const def = found.p.def;
      if (!def.writable) problems.push({ path: where, message: `point ${step.set} is read-only` });
      if (found.kind === 'door' && /lock/.test(step.set) && !scene.allow_locks)
        problems.push({ path: where, message: `scene "${name}" writes a door lock; set allow_locks: true if that is intended` });
      const v = step.value;
      const valuePath = at('scenes', name, 'steps', s, 'value');
      if (def.type === 'number' && typeof v !== 'number') problems.push({ path: valuePath, message: `${step.set} takes a number` });
      else if (def.type === 'boolean' && typeof v !== 'boolean') problems.push({ path: valuePath, message: `${step.set} takes true or false` });
      else if (def.type === 'enum' && !def.values!.includes(String(v))) problems.push({ path: valuePath, message: `${step.set} takes one of ${def.values!.join(', ')}` });
      else if (def.type === 'number' && typeof v === 'number') {
        const lo = def.safe?.min ?? def.min;
        const hi = def.safe?.max ?? def.max;
        if ((lo !== undefined && v < lo) || (hi !== undefined && v > hi)) problems.push({ path: valuePath, message: `${v} is outside ${step.set}'s safe range ${lo ?? '…'}–${hi ?? '…'}` });
      }
    });
  }
}

/** Line of the deepest node of a path that exists in the YAML document. */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
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
