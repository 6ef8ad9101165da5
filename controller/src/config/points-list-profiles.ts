import { checkKindContract } from './kind-contracts.ts';
import { profileSchema, type DeviceProfile } from './profile-schema.ts';
import { formatProblem, problemsFromZod } from './issues.ts';
import { templateRegex, type ListedDevice, type ListedPoint, type Unplaced } from './points-list.ts';

/**
 * Listed devices → profiles. A device whose points are exactly a built-in profile's
 * (same keys, registers or topics, types, write access) uses it; the others get site
 * profiles, one per distinct layout, shared by every device that has it (two rooms'
 * fan-coil units on one register map are one profile). Site profiles are written
 * whole, not as `extends`: a points list says which registers a unit has, and
 * extending a built-in would inherit registers this unit may not have. Each site
 * profile is checked by the profile schema and the kind contract before it is used:
 * a row whose point the schema refuses is reported and left out; a device whose kind
 * lacks a point the engine needs is reported row by row and left out.
 */
export interface PlacedDevice {
  device: ListedDevice;
  /** The device entry of the site config. */
  entry: Record<string, unknown>;
}

export interface SiteProfile {
  id: string;
  profile: Record<string, unknown>;
  usedBy: string[];
  rows: number[];
}

export interface ProfilePlan {
  placed: PlacedDevice[];
  profiles: SiteProfile[];
  unplaced: Unplaced[];
  /** What works with less (a profile without `mode`: no heat/cool switching). */
  warnings: string[];
}

const stable = (v: unknown): string => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
const slugId = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');

export function planProfiles(devices: ListedDevice[], builtins: Map<string, DeviceProfile>, siteId: string, taken: Set<string> = new Set()): ProfilePlan {
  const unplaced: Unplaced[] = [];
  const placed: PlacedDevice[] = [];
  const layouts = new Map<string, { devices: { device: ListedDevice; base?: string }[]; points: Record<string, Record<string, unknown>> }>();
  for (const device of devices) {
    const address = device.modbus ? { modbus: device.modbus } : undefined;
    const builtin = device.protocol === 'modbus' ? matchModbus(device, builtins) : matchMqtt(device, builtins);
    if (builtin) {
      placed.push({ device, entry: { name: device.name, profile: builtin.id, ...(address ?? { mqtt: { base: builtin.base } }), ...(builtin.channels ? { channels: builtin.channels } : {}) } });
      continue;
    }
    let points = Object.fromEntries(device.points.map((p) => [p.key, p.def]));
    let base: string | undefined;
    if (device.protocol === 'mqtt') {
      base = commonBase(device.points);
      if (!base) {
        for (const p of device.points) unplaced.push({ row: p.row, why: `device "${device.label}" of room ${device.room}: its topics share no common prefix to use as the device's base topic` });
        continue;
      }
      points = Object.fromEntries(device.points.map((p) => [p.key, relative(p.def, base!)]));
    }
    const signature = stable({ kind: device.kind, protocol: device.protocol, points });
    const layout = layouts.get(signature) ?? { devices: [], points };
    layout.devices.push({ device, base });
    layouts.set(signature, layout);
  }
  const profiles: SiteProfile[] = [];
  const warnings: string[] = [];
  const used = new Set([...builtins.keys(), ...taken]);
  for (const layout of layouts.values()) {
    const first = layout.devices[0]!.device;
    const models = new Set(layout.devices.map((d) => d.device.model));
    const stem = models.size === 1 && first.model ? slugId(first.model) : `${slugId(siteId)}-${first.kind.replace('_', '-')}`;
    let id = stem;
    for (let n = 2; used.has(id); n++) id = `${stem}-${n}`;
    used.add(id);
    const rowsOf = (key: string) => layout.devices.flatMap((d) => d.device.points.filter((p) => p.key === key).map((p) => p.row));
    const profile: Record<string, unknown> = { id, name: first.model ?? `${first.kind.replace('_', ' ')} (${first.label}, from the points list)`, kind: first.kind, protocol: first.protocol, points: { ...layout.points } };
    // The schema's word on each point: a refused point is reported at its rows and left out.
    let parsed = profileSchema.safeParse(profile);
    for (let round = 0; !parsed.success && round < 10; round++) {
      const problems = problemsFromZod(parsed.error, [], profileSchema);
      const bad = problems.filter((p) => p.path[0] === 'points' && typeof p.path[1] === 'string');
      if (bad.length === 0) break;
      for (const p of bad) {
        const key = p.path[1] as string;
        if (!(key in (profile.points as object))) continue;
        for (const row of rowsOf(key)) unplaced.push({ row, why: `point ${key}: ${formatProblem({ ...p, path: p.path.slice(2) })}` });
        delete (profile.points as Record<string, unknown>)[key];
      }
      parsed = profileSchema.safeParse(profile);
    }
    const rows = layout.devices.flatMap((d) => d.device.points.map((p) => p.row));
    const kept = layout.devices.map((d) => d.device.points.filter((p) => p.key in (profile.points as object)).map((p) => p.row)).flat();
    const fail = (why: string) => {
      for (const row of kept) unplaced.push({ row, why });
    };
    if (!parsed.success) {
      fail(`device left out: ${problemsFromZod(parsed.error, [], profileSchema).map(formatProblem).join('; ')}`);
      continue;
    }
    const contract = checkKindContract(parsed.data);
    if (contract.errors.length > 0) {
      const who = layout.devices.map((d) => `${d.device.room}/${d.device.label}`).join(', ');
      fail(`device ${who} left out: ${contract.errors.map((e) => e.replace(`profile ${id}: `, '')).join('; ')}`);
      continue;
    }
    warnings.push(...contract.warnings);
    profiles.push({ id, profile, usedBy: layout.devices.map((d) => `${d.device.room}/${d.device.name}`), rows: rows.filter((r) => kept.includes(r)) });
    for (const { device, base } of layout.devices) placed.push({ device, entry: { name: device.name, profile: id, ...(device.modbus ? { modbus: device.modbus } : { mqtt: { base } }) } });
  }
  unplaced.sort((a, b) => a.row - b.row);
  return { placed, profiles, unplaced, warnings };
}

/** Exactly a built-in Modbus profile: the same keys on the same registers, types, scales and write access. */
function matchModbus(device: ListedDevice, builtins: Map<string, DeviceProfile>): { id: string; base?: undefined; channels?: undefined } | undefined {
  for (const b of builtins.values()) {
    if (b.protocol !== 'modbus' || b.kind !== device.kind || Object.keys(b.points).length !== device.points.length) continue;
    const same = device.points.every(({ key, def }) => {
      const bp = b.points[key];
      const m = def.modbus as Record<string, unknown>;
      const bm = bp?.modbus;
      if (!bp || !bm || bp.type !== def.type || bp.writable !== !!def.writable) return false;
      const bitTable = bm.table === 'coil' || bm.table === 'discrete';
      return bm.table === m.table && bm.address === m.address && (bitTable || bm.type === (m.type ?? 'uint16')) && bm.scale === (m.scale ?? 1) && bm.offset === 0 && bm.bit === m.bit && !bm.bits && stable(bm.enum) === stable(m.enum);
    });
    if (same) return { id: b.id };
  }
  return undefined;
}

type MqttDef = { state?: { topic: string; path?: string; format?: string }; command?: { topic: string; payload: unknown } };

/** Exactly a built-in MQTT profile at some base topic, with the channels (zones, mics) its keys name. */
function matchMqtt(device: ListedDevice, builtins: Map<string, DeviceProfile>): { id: string; base: string; channels?: Record<string, number | string[]> } | undefined {
  for (const b of builtins.values()) {
    if (b.protocol !== 'mqtt' || b.kind !== device.kind) continue;
    let base: string | undefined;
    const channels: Record<string, string[]> = {};
    const ok = device.points.every(({ key, def }) => {
      const hit = Object.entries(b.points).map(([t, bp]) => ({ t, bp, m: templateRegex(t).exec(key) })).find((x) => x.m);
      if (!hit?.m || hit.bp.type !== def.type || hit.bp.writable !== !!def.writable || stable(hit.bp.values) !== stable(def.values)) return false;
      const names = [...hit.t.matchAll(/\{([a-z]+)\}/g)].map((x) => x[1]!);
      const vars: Record<string, string> = {};
      names.forEach((n, i) => {
        vars[n] = hit.m![i + 1]!;
        if (!(channels[n] ??= []).includes(vars[n]!)) channels[n]!.push(vars[n]!);
      });
      const fill = (s: string) => s.replace(/\{([a-z]+)\}/g, (w, n: string) => (n === 'base' ? '\u0000' : (vars[n] ?? w)));
      const mine = def.mqtt as MqttDef;
      const theirs = hit.bp.mqtt!;
      const at = baseOf(fill(theirs.state?.topic ?? ''), mine.state?.topic);
      if (at === undefined || (base !== undefined && at !== base)) return false;
      base = at;
      if ((theirs.state?.path ?? undefined) !== mine.state?.path || (theirs.state?.format ?? 'json') !== (mine.state?.format ?? 'json')) return false;
      if (!!theirs.command !== !!mine.command) return false;
      return !theirs.command || (fill(theirs.command.topic).replace('\u0000', base) === mine.command!.topic && stable(theirs.command.payload) === stable(mine.command!.payload));
    });
    if (!ok || base === undefined) continue;
    const expanded = Object.keys(b.points).reduce((n, t) => n + [...t.matchAll(/\{([a-z]+)\}/g)].reduce((m, x) => m * (channels[x[1]!]?.length ?? 0), 1), 0);
    if (expanded !== device.points.length) continue;
    const given: Record<string, number | string[]> = {};
    for (const [name, values] of Object.entries(channels)) {
      const count = values.every((v, i) => v === String(i + 1)) ? values.length : undefined;
      const value = count !== undefined && typeof b.channels?.[name]?.default === 'number' ? count : values;
      if (stable(value) !== stable(b.channels?.[name]?.default)) given[name] = value;
    }
    return { id: b.id, base, channels: Object.keys(given).length ? given : undefined };
  }
  return undefined;
}

/** The base a filled template (`\0/main/state`) gives to a topic, if the topic fits it. */
function baseOf(template: string, topic: string | undefined): string | undefined {
  if (!topic || !template.startsWith('\u0000')) return undefined;
  const rest = template.slice(1);
  return topic.endsWith(rest) && topic.length > rest.length ? topic.slice(0, topic.length - rest.length) : undefined;
}

/** The longest topic prefix (whole levels) all of a device's topics share; a level short of a full topic, so `…/door/state` keeps `state`. */
function commonBase(points: ListedPoint[]): string | undefined {
  const topics = points.flatMap((p) => {
    const m = p.def.mqtt as MqttDef;
    return [m.state?.topic, m.command?.topic].filter((t): t is string => !!t);
  });
  let prefix = topics[0]!.split('/');
  for (const t of topics) {
    const levels = t.split('/');
    let n = 0;
    while (n < prefix.length && n < levels.length && prefix[n] === levels[n]) n++;
    prefix = prefix.slice(0, n);
  }
  if (topics.some((t) => t === prefix.join('/')) && prefix.length > 1) prefix = prefix.slice(0, -1);
  const base = prefix.join('/');
  return base.length > 0 ? base : undefined;
}

function relative(def: Record<string, unknown>, base: string): Record<string, unknown> {
  const swap = (t: string) => (t === base ? '{base}' : `{base}${t.slice(base.length)}`);
  const m = def.mqtt as MqttDef & Record<string, unknown>;
  return { ...def, mqtt: { ...m, ...(m.state ? { state: { ...m.state, topic: swap(m.state.topic) } } : {}), ...(m.command ? { command: { ...m.command, topic: swap(m.command.topic) } } : {}) } };
}
