import { resolveOrder, type DeviceProfile, type ModbusPointMap, type PointDef } from '../config/profile-schema.ts';
import type { DeviceConfig, GatewayConfig } from '../config/schema.ts';

/** One point of one device in one room, with its protocol mapping fully expanded. */
export interface ResolvedPoint {
  /** Room-level id: `<device>.<key>`, e.g. `audio.mic.3.level`. */
  id: string;
  room: string;
  device: string;
  def: PointDef;
  mqtt?: {
    stateTopic?: string;
    /** JSON path segments; empty = the whole payload. */
    path: string[];
    stateFormat: 'json' | 'raw';
    commandTopic?: string;
    commandPayload?: unknown;
    commandFormat: 'json' | 'raw';
    map?: Record<string, number | boolean | string>;
  };
  /** byte_order and word_order resolved from the point's `order`, its own fields or the profile's (absent byte_order = big). */
  modbus?: ModbusPointMap & { word_order: 'big' | 'little'; byte_order?: 'big' | 'little' };
}

/** How to reach a Modbus unit; devices with the same `key` share one connection. */
export interface ModbusLink {
  key: string;
  tcp?: { host: string; port: number };
  rtu?: { path: string; baud_rate: number; parity: 'none' | 'even' | 'odd'; data_bits: 7 | 8; stop_bits: 1 | 2 };
  /** Request timeout of the devices on this link that have none of their own; also the connect timeout's base. */
  timeoutMs: number;
  /** Pause between one answer and the next request (gateways that need rest between frames). */
  requestGapMs?: number;
}

export interface ResolvedDevice {
  room: string;
  name: string;
  profile: DeviceProfile;
  required: boolean;
  /** Fire-alarm devices: the rooms it covers, or the whole site (the default). */
  covers?: 'site' | string[];
  points: ResolvedPoint[];
  mqtt?: { base: string; availability?: { topic: string; path: string[]; online: unknown; offline: unknown } };
  /**
   * timeoutMs: the device's own request timeout (else its link's, see ModbusLink);
   * retries/offlineAfter: the device's own, else its gateway's, else the defaults (0, 2).
   */
  modbus?: { link: ModbusLink; unit: number; pollMs: number; timeoutMs?: number; retries: number; offlineAfter: number };
}

const DEFAULT_MODBUS_TIMEOUT_MS = 1000;
/** Polls in a row without an answer before a unit is reported offline: one lost frame is not an outage. */
const DEFAULT_OFFLINE_AFTER = 2;

/** Channel values of a device: profile defaults overridden by the device's `channels`. */
export function channelValues(profile: DeviceProfile, device: DeviceConfig): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, ch] of Object.entries(profile.channels ?? {})) {
    const given = device.channels?.[name] ?? ch.default;
    out[name] = typeof given === 'number' ? Array.from({ length: given }, (_, i) => String(i + 1)) : given;
  }
  return out;
}

function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, name: string) => vars[name] ?? whole);
}

/** Every combination of channel values used by a point key (usually 0 or 1 channel). */
function expansions(key: string, channels: Record<string, string[]>): Record<string, string>[] {
  const used = [...new Set([...key.matchAll(/\{([a-z]+)\}/g)].map((m) => m[1]!))];
  let combos: Record<string, string>[] = [{}];
  for (const name of used) combos = combos.flatMap((c) => (channels[name] ?? []).map((v) => ({ ...c, [name]: v })));
  return combos;
}

function fillDeep(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === 'string') return value === '{value}' || value === '{cmd_id}' ? value : fill(value, vars);
  if (Array.isArray(value)) return value.map((v) => fillDeep(v, vars));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillDeep(v, vars)]));
  return value;
}

/** The names a device fills in for itself; a channel of the same name does not override them. */
const OWN = /\{(?:base|device|room)\}/;
const ownVars = (vars: Record<string, string>) => Object.fromEntries(Object.entries(vars).filter(([k]) => k !== 'base' && k !== 'device' && k !== 'room'));
const mentionsOwn = (value: unknown): boolean =>
  typeof value === 'string' ? value !== '{value}' && value !== '{cmd_id}' && OWN.test(value) : Array.isArray(value) ? value.some(mentionsOwn) : value !== null && typeof value === 'object' ? Object.values(value).some(mentionsOwn) : false;

/**
 * One point of a profile for one device name and set of channel values, with the
 * channel values already filled in: what every device of that kind shares. A site of
 * 10,000 rooms has 260,000 points but a few dozen shapes, so the ids, JSON paths,
 * command payloads and Modbus maps are made (and held) once per shape; a device only
 * fills in its own base, name and room (bench:ingest, bench:schedule).
 */
interface PointShape {
  id: string;
  def: PointDef;
  mqtt?: {
    /** Topic templates with the channel values filled in; {base}, {device}, {room} left. */
    state?: string;
    command?: string;
    /** Shared when the path names none of the device's own values. */
    path: string[] | string;
    stateFormat: 'json' | 'raw';
    /** Shared when the payload names none of them, else the template to fill. */
    payload: { shared: unknown } | { template: unknown };
    commandFormat: 'json' | 'raw';
    map?: Record<string, number | boolean | string>;
  };
  modbus?: ResolvedPoint['modbus'];
}

const shapeCache = new WeakMap<DeviceProfile, Map<string, PointShape[]>>();

/** Profiles are data: validated once when loaded and never changed after, so their shapes can be kept with them. */
function shapesOf(profile: DeviceProfile, name: string, channels: Record<string, string[]>): PointShape[] {
  let byDevice = shapeCache.get(profile);
  if (!byDevice) shapeCache.set(profile, (byDevice = new Map()));
  const cacheKey = `${name}\u0000${JSON.stringify(channels)}`;
  const cached = byDevice.get(cacheKey);
  if (cached) return cached;
  const shapes: PointShape[] = [];
  for (const [key, def] of Object.entries(profile.points)) {
    for (const combo of expansions(key, channels)) {
      const vars = ownVars(combo);
      const shape: PointShape = { id: `${name}.${fill(key, combo)}`, def };
      if (def.mqtt) {
        const m = def.mqtt;
        const path = m.state?.path ? fill(m.state.path, vars) : undefined;
        const payload = m.command ? fillDeep(m.command.payload, vars) : undefined;
        shape.mqtt = {
          state: m.state ? fill(m.state.topic, vars) : undefined,
          command: m.command ? fill(m.command.topic, vars) : undefined,
          path: path === undefined ? [] : OWN.test(path) ? path : path.split('.'),
          stateFormat: m.state?.format ?? 'json',
          payload: mentionsOwn(payload) ? { template: payload } : { shared: payload },
          commandFormat: m.command?.format ?? 'json',
          map: m.map,
        };
      }
      if (def.modbus) shape.modbus = { ...def.modbus, ...resolveOrder(def.modbus, profile) };
      shapes.push(shape);
    }
  }
  byDevice.set(cacheKey, shapes);
  return shapes;
}

const availabilityPaths = new WeakMap<DeviceProfile, string[]>();
/** The JSON path of a profile's availability topic, one array for all its devices. */
function availabilityPath(profile: DeviceProfile): string[] {
  let path = availabilityPaths.get(profile);
  if (!path) availabilityPaths.set(profile, (path = profile.availability?.path ? profile.availability.path.split('.') : []));
  return path;
}

export function resolveDevice(room: string, device: DeviceConfig, profile: DeviceProfile, gateways: GatewayConfig[]): ResolvedDevice {
  const base = device.mqtt?.base ?? '';
  const own = { base, device: device.name, room };
  // Points on one topic (a DSP channel's level, mute and test) share its string.
  const topics = new Map<string, string>();
  const topic = (template: string) => {
    let t = topics.get(template);
    if (t === undefined) topics.set(template, (t = fill(template, own)));
    return t;
  };
  const points: ResolvedPoint[] = [];
  for (const shape of shapesOf(profile, device.name, channelValues(profile, device))) {
    const m = shape.mqtt;
    const mqtt: ResolvedPoint['mqtt'] = m && {
      stateTopic: m.state === undefined ? undefined : topic(m.state),
      path: typeof m.path === 'string' ? fill(m.path, own).split('.') : m.path,
      stateFormat: m.stateFormat,
      commandTopic: m.command === undefined ? undefined : topic(m.command),
      commandPayload: 'shared' in m.payload ? m.payload.shared : fillDeep(m.payload.template, own),
      commandFormat: m.commandFormat,
      map: m.map,
    };
    // Each point made whole in one literal: a property added afterwards goes to an extra
    // property array (40 bytes a point, 10 MB for the 10,000-room bench site).
    const { id, def, modbus } = shape;
    const name = device.name;
    points.push(
      mqtt && modbus ? { id, room, device: name, def, mqtt, modbus } : mqtt ? { id, room, device: name, def, mqtt } : modbus ? { id, room, device: name, def, modbus } : { id, room, device: name, def },
    );
  }
  const a = profile.availability;
  const mqtt: ResolvedDevice['mqtt'] = !device.mqtt ? undefined : a ? { base, availability: { topic: fill(a.topic, { base }), path: availabilityPath(profile), online: a.online, offline: a.offline } } : { base };
  // As the points: an MQTT device (most of a site) made whole in one literal.
  const resolved: ResolvedDevice =
    mqtt && profile.kind !== 'fire_alarm' && !device.modbus ? { room, name: device.name, profile, required: device.required, points, mqtt } : { room, name: device.name, profile, required: device.required, points };
  if (profile.kind === 'fire_alarm') resolved.covers = device.covers ?? 'site';
  if (mqtt && !resolved.mqtt) resolved.mqtt = mqtt;
  if (device.modbus) {
    const m = device.modbus;
    const gw = m.gateway ? gateways.find((g) => g.id === m.gateway) : undefined;
    let link: ModbusLink;
    if (gw?.tcp) link = { key: `tcp:${gw.tcp.host}:${gw.tcp.port}`, tcp: gw.tcp, timeoutMs: gw.timeout_ms };
    else if (gw?.rtu) link = { key: `rtu:${gw.rtu.path}`, rtu: gw.rtu, timeoutMs: gw.timeout_ms };
    else link = { key: `tcp:${m.host}:${m.port ?? 502}`, tcp: { host: m.host ?? '127.0.0.1', port: m.port ?? 502 }, timeoutMs: m.timeout_ms ?? DEFAULT_MODBUS_TIMEOUT_MS };
    if (gw?.request_gap_ms) link.requestGapMs = gw.request_gap_ms;
    resolved.modbus = {
      link,
      unit: m.unit,
      pollMs: m.poll_ms ?? profile.poll_ms,
      // Only the device's own: without it a request takes its link's timeout (which a simulated day shortens).
      timeoutMs: m.timeout_ms,
      retries: m.retries ?? gw?.retries ?? 0,
      offlineAfter: m.offline_after ?? gw?.offline_after ?? DEFAULT_OFFLINE_AFTER,
    };
  }
  return resolved;
}
