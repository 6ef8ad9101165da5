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

export function resolveDevice(room: string, device: DeviceConfig, profile: DeviceProfile, gateways: GatewayConfig[]): ResolvedDevice {
  const channels = channelValues(profile, device);
  const base = device.mqtt?.base ?? '';
  const points: ResolvedPoint[] = [];
  for (const [key, def] of Object.entries(profile.points)) {
    for (const vars of expansions(key, channels)) {
      const all = { ...vars, base, device: device.name, room };
      const point: ResolvedPoint = { id: `${device.name}.${fill(key, vars)}`, room, device: device.name, def };
      if (def.mqtt) {
        const m = def.mqtt;
        point.mqtt = {
          stateTopic: m.state ? fill(m.state.topic, all) : undefined,
          path: m.state?.path ? fill(m.state.path, all).split('.') : [],
          stateFormat: m.state?.format ?? 'json',
          commandTopic: m.command ? fill(m.command.topic, all) : undefined,
          commandPayload: m.command ? fillDeep(m.command.payload, all) : undefined,
          commandFormat: m.command?.format ?? 'json',
          map: m.map,
        };
      }
      if (def.modbus) point.modbus = { ...def.modbus, ...resolveOrder(def.modbus, profile) };
      points.push(point);
    }
  }
  const resolved: ResolvedDevice = { room, name: device.name, profile, required: device.required, points };
  if (profile.kind === 'fire_alarm') resolved.covers = device.covers ?? 'site';
  if (device.mqtt && profile.availability) {
    const a = profile.availability;
    resolved.mqtt = { base, availability: { topic: fill(a.topic, { base }), path: a.path ? a.path.split('.') : [], online: a.online, offline: a.offline } };
  } else if (device.mqtt) resolved.mqtt = { base };
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
