import type { Logger } from '../log.ts';
import type { EventBus } from '../model/bus.ts';
import type { Clock } from '../model/clock.ts';
import type { ResolvedDevice, ResolvedPoint } from '../model/devices.ts';
import type { PointValue } from '../model/points.ts';
import type { PointSink, PointSlot } from '../model/room-state.ts';
import { checkReading } from '../model/values.ts';

/**
 * The MQTT side of devices that needs no connection: which topic carries which
 * points, decoding and checking a device payload into readings, rate-limited
 * reporting of bad payloads, topic filters and command payload templates. Kept
 * apart from mqtt.ts (the only importer of `mqtt`) so it can be read, tested and
 * profiled on its own.
 */

export interface DeviceEntry {
  device: ResolvedDevice;
  /** Rejections of this device so far. */
  rejected: number;
  lastLogAt: number;
  unlogged: number;
  /** What we last told the sink; devices with an availability topic are driven only by it. */
  online: boolean;
  hasAvailability: boolean;
}

interface PointRoute {
  point: ResolvedPoint;
  entry: DeviceEntry;
  /** point.mqtt.path with internalized keys (see `propertyKey`). */
  path: string[];
  def: ResolvedPoint['def'];
  map: NonNullable<ResolvedPoint['mqtt']>['map'];
  /** The point's slot in the sink, asked for at its first reading (null: the sink has none). */
  slot: PointSlot | null | undefined;
}

interface TopicRoute {
  json: PointRoute[];
  raw: PointRoute[];
  availability: DeviceEntry[];
}

const REJECT_LOG_INTERVAL_MS = 60_000;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Topic → the points (and availability) it carries, and the subscription filters that cover them all. */
export class DeviceTopicIndex {
  readonly routes = new Map<string, TopicRoute>();
  private readonly entries = new Map<string, DeviceEntry>();
  /** `<base>/` → its device (the first one, if two share a base). */
  private readonly bases = new Map<string, DeviceEntry>();
  /** What to subscribe to so every device topic arrives exactly once. */
  readonly filters = new Set<string>();

  constructor(devices: readonly ResolvedDevice[]) {
    const paths = new Map<string, string[]>();
    const internedPath = (path: string[]) => {
      const id = path.join('\u0000');
      let p = paths.get(id);
      if (!p) paths.set(id, (p = path.map(propertyKey)));
      return p;
    };
    for (const device of devices) {
      const entry: DeviceEntry = { device, rejected: 0, lastLogAt: -Infinity, unlogged: 0, online: false, hasAvailability: !!device.mqtt?.availability };
      this.entries.set(`${device.room}\u0000${device.name}`, entry);
      const prefix = device.mqtt?.base ? `${device.mqtt.base}/` : undefined;
      if (prefix && !this.bases.has(prefix)) this.bases.set(prefix, entry);
      if (device.mqtt?.availability) this.route(device.mqtt.availability.topic).availability.push(entry);
      for (const point of device.points) {
        const m = point.mqtt;
        if (!m?.stateTopic) continue;
        this.route(m.stateTopic)[m.stateFormat === 'raw' ? 'raw' : 'json'].push({ point, entry, path: internedPath(m.path), def: point.def, map: m.map, slot: undefined });
      }
    }
    // One wildcard per device base (so garbage under a base is seen and counted), plus
    // the exact topics that live outside every base. No two filters overlap: Mosquitto
    // would deliver a message once per matching filter.
    for (const prefix of this.bases.keys()) if (!this.underOtherBase(prefix, prefix.length - 1)) this.filters.add(`${prefix}#`);
    for (const topic of this.routes.keys()) if (!this.underOtherBase(topic, topic.length)) this.filters.add(topic);
    // Arrays grown by push() keep spare room; a site of 10,000 rooms has 130,000 routes.
    for (const r of this.routes.values()) {
      r.json = compact(r.json);
      r.raw = compact(r.raw);
      r.availability = compact(r.availability);
    }
  }

  /**
   * Whether a base ends at one of the topic's slashes before `end`. Bases end with "/",
   * so these are the only places one can match: a few lookups per topic, not a scan of
   * every base (a site of 10,000 rooms has 40,000 of them).
   */
  private underOtherBase(topic: string, end: number): boolean {
    for (let i = topic.indexOf('/'); i >= 0 && i < end; i = topic.indexOf('/', i + 1)) if (this.bases.has(topic.slice(0, i + 1))) return true;
    return false;
  }

  private route(topic: string): TopicRoute {
    let r = this.routes.get(topic);
    if (!r) this.routes.set(topic, (r = { json: [], raw: [], availability: [] }));
    return r;
  }

  device(room: string, name: string): DeviceEntry | undefined {
    return this.entries.get(`${room}\u0000${name}`);
  }

  /** The device whose base the topic lies under (the longest one), if any. */
  deviceUnder(topic: string): DeviceEntry | undefined {
    for (let i = topic.lastIndexOf('/'); i >= 0; i = i > 0 ? topic.lastIndexOf('/', i - 1) : -1) {
      const entry = this.bases.get(topic.slice(0, i + 1));
      if (entry) return entry;
    }
    return undefined;
  }

  allDevices(): IterableIterator<DeviceEntry> {
    return this.entries.values();
  }
}

/**
 * Turns device messages into checked readings and availability for the sink.
 * Bad input is counted per device, reported on the bus every time, and logged at
 * most once a minute per device; it never changes state.
 */
export class DeviceMessageReader {
  readonly counters = { received: 0, applied: 0, rejected: 0 };

  constructor(
    private readonly index: DeviceTopicIndex,
    private readonly sink: PointSink,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly maxPayloadBytes: number,
  ) {}

  /** Handles a message if it is on (or, with control characters, under) a device topic. */
  message(topic: string, payload: Buffer): void {
    const route = this.index.routes.get(topic);
    if (route) this.deviceMessage(topic, route, payload);
    else if (CONTROL_CHARS.test(topic)) {
      const entry = this.index.deviceUnder(topic);
      if (entry) this.reject(entry, topic, 'topic contains control characters');
    }
    // Anything else under a device base (e.g. the echo of our own commands) is not ours to judge.
  }

  /** After a connection gap, devices without an availability topic must say again that they are online. */
  connectionLost(): void {
    for (const entry of this.index.allDevices()) if (!entry.hasAvailability) entry.online = false;
  }

  /** The hot path: one lookup, one JSON.parse, a path walk and a check per point. */
  private deviceMessage(topic: string, route: TopicRoute, payload: Buffer): void {
    this.counters.received++;
    if (payload.length > this.maxPayloadBytes) {
      for (const entry of devicesOf(route)) this.reject(entry, topic, `payload of ${payload.length} bytes is over the ${this.maxPayloadBytes}-byte limit`, pointsOf(route, entry));
      return;
    }
    let applied = false;
    for (const entry of route.availability) if (this.availability(entry, topic, payload)) applied = true;
    if (route.json.length > 0) {
      let doc: unknown;
      let parsed = true;
      try {
        doc = JSON.parse(payload.toString());
      } catch {
        parsed = false;
        for (const entry of new Set(route.json.map((r) => r.entry))) this.reject(entry, topic, 'payload is not valid JSON', pointsOf(route, entry));
      }
      if (parsed) {
        let found = 0;
        for (const r of route.json) {
          const raw = extract(doc, r.path);
          if (raw === undefined) continue;
          found++;
          if (this.reading(r, raw, topic)) applied = true;
        }
        if (found === 0 && route.availability.length === 0) {
          const fields = route.json.map((r) => r.point.mqtt!.path.join('.')).join(', ');
          const why = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? `has none of the fields ${fields}` : `is not a JSON object with ${fields}`;
          for (const entry of new Set(route.json.map((r) => r.entry))) this.reject(entry, topic, `payload ${why}`, pointsOf(route, entry));
        }
      }
    }
    if (route.raw.length > 0) {
      const text = payload.toString().trim();
      for (const r of route.raw) if (this.reading(r, text, topic)) applied = true;
    }
    if (applied) this.counters.applied++;
  }

  private reading(r: PointRoute, raw: unknown, topic: string): boolean {
    const { point, entry, def, map } = r;
    let value: PointValue;
    // Most telemetry is a plain number inside the point's range: what checkReading would
    // answer, without building its result (bench:ingest). Anything else goes through it.
    if (typeof raw === 'number' && def.type === 'number' && map === undefined && Number.isFinite(raw) && !(def.min !== undefined && raw < def.min) && !(def.max !== undefined && raw > def.max)) value = raw;
    else {
      const checked = checkReading(def, raw, map);
      if (!checked.ok) {
        this.reject(entry, topic, `${point.id}: ${checked.reason}`, [point.id]);
        return false;
      }
      value = checked.value;
    }
    if (!entry.online && !entry.hasAvailability) {
      entry.online = true;
      this.sink.deviceStatus(entry.device.room, entry.device.name, true);
    }
    if (r.slot === undefined) r.slot = this.sink.slot?.(point) ?? null;
    if (r.slot !== null) this.sink.readingAt!(r.slot, value);
    else this.sink.reading(point, value);
    return true;
  }

  private availability(entry: DeviceEntry, topic: string, payload: Buffer): boolean {
    const a = entry.device.mqtt!.availability!;
    let value: unknown;
    if (a.path.length === 0) value = payload.toString().trim();
    else {
      try {
        value = extract(JSON.parse(payload.toString()), a.path);
      } catch {
        value = undefined;
      }
    }
    const text = value === undefined || value === null ? undefined : String(value);
    const online = text === String(a.online) ? true : text === String(a.offline) ? false : undefined;
    if (online === undefined) {
      this.reject(entry, topic, `availability is neither ${String(a.online)} nor ${String(a.offline)}`);
      return false;
    }
    entry.online = online;
    this.sink.deviceStatus(entry.device.room, entry.device.name, online);
    return true;
  }

  /** Counted and reported every time; logged at most once a minute per device. */
  private reject(entry: DeviceEntry, topic: string, reason: string, points: readonly string[] = []): void {
    const { room, name } = entry.device;
    entry.rejected++;
    this.counters.rejected++;
    const shown = shortTopic(topic);
    this.sink.rejected(room, name, shown, reason, points);
    const now = this.clock.now();
    this.bus.emit('payload-rejected', { room, device: name, topic: shown, reason, count: entry.rejected, ts: now });
    if (now - entry.lastLogAt < REJECT_LOG_INTERVAL_MS) {
      entry.unlogged++;
      return;
    }
    this.log.warn({ room, device: name, topic: shown, reason, total: entry.rejected, notLogged: entry.unlogged }, 'rejected a device payload');
    entry.lastLogAt = now;
    entry.unlogged = 0;
  }
}

/** The points of one device that a topic feeds (what a rejected message leaves unproven). */
function pointsOf(route: TopicRoute, entry: DeviceEntry): string[] {
  return [...route.json, ...route.raw].filter((r) => r.entry === entry).map((r) => r.point.id);
}

function devicesOf(route: TopicRoute): Set<DeviceEntry> {
  return new Set([...route.availability, ...route.json.map((r) => r.entry), ...route.raw.map((r) => r.entry)]);
}

const NONE: never[] = [];
const compact = <T>(a: T[]): T[] => (a.length === 0 ? NONE : a.slice());

/**
 * The same string, internalized by V8. Path segments come from split() and are not;
 * looking a property up by such a key makes V8 search its string table on every
 * message, which cost more than the JSON.parse itself in bench:ingest.
 */
function propertyKey(key: string): string {
  return Object.keys({ [key]: 0 })[0]!;
}

function extract(doc: unknown, path: string[]): unknown {
  let cur = doc;
  for (let i = 0; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[path[i]!];
  }
  return cur;
}

/** Topics go into logs and events; keep them short and printable. */
export function shortTopic(topic: string): string {
  return topic.length > 200 ? `${topic.slice(0, 200)}…` : topic;
}

/**
 * An MQTT filter as a test (`+` one level, `#` the rest; wildcards never match `$`
 * topics at the first level). Runs for every message while features subscribe, so the
 * literal prefix before the first wildcard rejects most topics without splitting them.
 */
export function topicMatcher(filter: string): (topic: string) => boolean {
  const wild = filter.search(/[+#]/);
  if (wild < 0) return (topic) => topic === filter;
  const prefix = filter.slice(0, wild);
  const f = filter.split('/');
  return (topic) => {
    if (!topic.startsWith(prefix) || (wild === 0 && topic.startsWith('$'))) return false;
    const t = topic.split('/');
    for (let i = 0; i < f.length; i++) {
      if (f[i] === '#') return true;
      if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
    }
    return f.length === t.length;
  };
}

/**
 * A command payload from the profile's template: the string "{value}" becomes the
 * typed value, "{cmd_id}" the command id; JSON objects also get the profile's
 * command id field, so a device (or a test) can recognise a duplicate delivery.
 */
export function commandPayload(m: NonNullable<ResolvedPoint['mqtt']>, value: PointValue, commandId: string, idField: string): string {
  if (m.commandFormat === 'raw') {
    const t = m.commandPayload;
    return typeof t === 'string' ? t.replaceAll('{value}', String(value)).replaceAll('{cmd_id}', commandId) : String(value);
  }
  const body = m.commandPayload === undefined ? value : fillTemplate(m.commandPayload, value, commandId);
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && !(idField in body)) (body as Record<string, unknown>)[idField] = commandId;
  return JSON.stringify(body);
}

function fillTemplate(t: unknown, value: PointValue, commandId: string): unknown {
  if (t === '{value}') return value;
  if (t === '{cmd_id}') return commandId;
  if (typeof t === 'string') return t.replaceAll('{value}', String(value)).replaceAll('{cmd_id}', commandId);
  if (Array.isArray(t)) return t.map((x) => fillTemplate(x, value, commandId));
  if (t !== null && typeof t === 'object') return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, fillTemplate(v, value, commandId)]));
  return t;
}
