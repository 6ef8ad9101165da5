import { connect, type MqttClient } from 'mqtt';
import { ErrorCode, RoomctlError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { DeviceAdapter } from '../model/adapter.ts';
import type { EventBus } from '../model/bus.ts';
import type { Clock } from '../model/clock.ts';
import type { ResolvedDevice, ResolvedPoint } from '../model/devices.ts';
import type { PointValue } from '../model/points.ts';
import type { PointSink } from '../model/room-state.ts';
import { checkReading } from '../model/values.ts';

/**
 * The MQTT adapter: the only module that imports `mqtt`. It turns device state
 * topics into checked point readings, device commands into QoS 1 publishes, and
 * keeps one connection to the broker alive for every other feature
 * (`publish`/`subscribe`).
 *
 * Connection policy:
 * - `start()` resolves once the first connection is up and subscribed, or after `firstConnectMs` (default 5 s)
 *   with a warning while mqtt.js keeps retrying in the background, so `roomctl start`
 *   never hangs on a dead broker and still connects once it comes up.
 * - Reconnects back off exponentially from reconnect.minMs to maxMs with jitter.
 *   mqtt.js's own reconnect machinery is kept (it holds QoS 1 publishes made while
 *   offline and resends unacknowledged ones after reconnect); only its fixed period is
 *   replaced: before each attempt ('reconnect') the period for the *next* scheduling
 *   is set, and a successful CONNACK resets it to the minimum.
 * - Subscriptions are renewed by us after every CONNACK (mqtt.js's `resubscribe` is
 *   off): mqtt.js skips it when the broker reports sessionPresent, which is not proof
 *   that the broker still has them.
 */
export interface MqttAdapterOptions {
  url: string;
  clientId?: string;
  username?: string;
  password?: string;
  /** e.g. `roomctl/demo`; birth/last will go to `<sitePrefix>/status`. */
  sitePrefix: string;
  reconnect: { minMs: number; maxMs: number };
  /** How long start() waits for the first connection before carrying on. */
  firstConnectMs?: number;
  /** Larger device payloads are rejected unparsed. */
  maxPayloadBytes?: number;
}

export interface MqttAdapterStats {
  /** Messages that arrived on a device state or availability topic. */
  received: number;
  /** Of those, messages that gave at least one valid reading or availability. */
  applied: number;
  /** Rejections (a message can be rejected for several points). */
  rejected: number;
  /** Reconnect attempts since start. */
  reconnects: number;
  commandsSent: number;
  /** The delay mqtt.js last waited (or is waiting) before a reconnect attempt. */
  reconnectDelayMs: number;
}

export type MessageHandler = (topic: string, payload: Buffer) => void;

interface DeviceEntry {
  device: ResolvedDevice;
  /** Rejections of this device so far. */
  rejected: number;
  lastLogAt: number;
  unlogged: number;
  /** What we last told the sink; devices with an availability topic are driven only by it. */
  online: boolean;
  hasAvailability: boolean;
}

interface TopicRoute {
  json: { point: ResolvedPoint; entry: DeviceEntry }[];
  raw: { point: ResolvedPoint; entry: DeviceEntry }[];
  availability: DeviceEntry[];
}

const DEFAULT_FIRST_CONNECT_MS = 5000;
const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;
const REJECT_LOG_INTERVAL_MS = 60_000;
const STOP_STEP_MS = 2000;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export class MqttAdapter implements DeviceAdapter {
  readonly protocol = 'mqtt' as const;
  private readonly routes = new Map<string, TopicRoute>();
  private readonly entries = new Map<string, DeviceEntry>();
  /** Longest base first, to find the device of an unknown topic. */
  private readonly bases: { prefix: string; entry: DeviceEntry }[] = [];
  private readonly deviceFilters = new Set<string>();
  private readonly handlers = new Map<string, { match: (topic: string) => boolean; fns: Set<MessageHandler> }>();
  private readonly pending = new Set<(err: Error) => void>();
  private readonly counters = { received: 0, applied: 0, rejected: 0, reconnects: 0, commandsSent: 0 };
  private readonly statusTopic: string;
  private readonly maxPayloadBytes: number;
  private readonly log: Logger;
  private client?: MqttClient;
  private attempt = 0;
  private reconnectDelayMs = 0;
  private everConnected = false;
  private up = false;
  private errorLogged = false;
  private stopping = false;
  private firstConnect?: { resolve: () => void; timer: NodeJS.Timeout };

  constructor(
    private readonly options: MqttAdapterOptions,
    readonly devices: ResolvedDevice[],
    private readonly sink: PointSink,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    this.log = logger;
    this.statusTopic = `${options.sitePrefix}/status`;
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    for (const device of devices) {
      const entry: DeviceEntry = { device, rejected: 0, lastLogAt: -Infinity, unlogged: 0, online: false, hasAvailability: !!device.mqtt?.availability };
      this.entries.set(`${device.room}\u0000${device.name}`, entry);
      if (device.mqtt?.base) this.bases.push({ prefix: `${device.mqtt.base}/`, entry });
      if (device.mqtt?.availability) this.route(device.mqtt.availability.topic).availability.push(entry);
      for (const point of device.points) {
        const m = point.mqtt;
        if (!m?.stateTopic) continue;
        this.route(m.stateTopic)[m.stateFormat === 'raw' ? 'raw' : 'json'].push({ point, entry });
      }
    }
    this.bases.sort((a, b) => b.prefix.length - a.prefix.length);
    // One wildcard per device base (so garbage under a base is seen and counted), plus
    // the exact topics that live outside every base. No two filters overlap: Mosquitto
    // would deliver a message once per matching filter.
    const covered = (topic: string, self?: string) => this.bases.some((b) => b.prefix !== self && topic.startsWith(b.prefix));
    for (const { prefix } of this.bases) if (!covered(prefix, prefix)) this.deviceFilters.add(`${prefix}#`);
    for (const topic of this.routes.keys()) if (!covered(topic)) this.deviceFilters.add(topic);
  }

  private route(topic: string): TopicRoute {
    let r = this.routes.get(topic);
    if (!r) this.routes.set(topic, (r = { json: [], raw: [], availability: [] }));
    return r;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  stats(): MqttAdapterStats {
    return { ...this.counters, reconnectDelayMs: this.reconnectDelayMs };
  }

  async start(): Promise<void> {
    if (this.client) return;
    this.stopping = false;
    let client: MqttClient;
    try {
      client = connect(this.options.url, {
        clientId: this.options.clientId ?? `roomctl_${Math.random().toString(16).slice(2, 10)}`,
        username: this.options.username,
        password: this.options.password,
        protocolVersion: 4,
        clean: true,
        keepalive: 30,
        connectTimeout: 10_000,
        reconnectPeriod: this.backoff(0),
        reconnectOnConnackError: true,
        resubscribe: false,
        will: { topic: this.statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
      });
    } catch (err) {
      throw new RoomctlError(ErrorCode.MqttNotConnected, `cannot connect to MQTT broker ${this.options.url}: ${(err as Error).message}`);
    }
    this.client = client;
    client.on('connect', (connack) => this.onConnect(client, connack.sessionPresent));
    client.on('reconnect', () => {
      this.counters.reconnects++;
      client.options.reconnectPeriod = this.backoff(++this.attempt);
    });
    client.on('close', () => this.onClose(client));
    client.on('error', (err) => {
      // Every failed attempt reports an error; one warning per outage is enough.
      this.log[this.errorLogged ? 'debug' : 'warn']({ url: this.options.url, err: err.message }, 'MQTT connection problem');
      this.errorLogged = true;
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.firstConnect = undefined;
        this.log.warn({ url: this.options.url }, 'MQTT broker not reachable yet; carrying on and retrying in the background');
        resolve();
      }, this.options.firstConnectMs ?? DEFAULT_FIRST_CONNECT_MS);
      this.firstConnect = { resolve, timer };
    });
  }

  private onConnect(client: MqttClient, sessionPresent: boolean): void {
    if (this.stopping) return;
    this.attempt = 0;
    this.errorLogged = false;
    client.options.reconnectPeriod = this.backoff(0);
    // start() resolves once the first SUBACK is in: from then on device states arrive.
    const subscribed = () => {
      if (!this.firstConnect) return;
      clearTimeout(this.firstConnect.timer);
      this.firstConnect.resolve();
      this.firstConnect = undefined;
    };
    const filters = [...this.deviceFilters, ...this.handlers.keys()];
    if (filters.length === 0) subscribed();
    else
      client.subscribe(filters, { qos: 1 }, (err) => {
        if (err) this.log.error({ err: err.message }, 'MQTT subscribe failed; device states will not arrive until the next reconnect');
        subscribed();
      });
    client.publish(this.statusTopic, 'online', { qos: 1, retain: true });
    this.log.info({ url: this.options.url, sessionPresent, reconnects: this.counters.reconnects }, this.everConnected ? 'MQTT reconnected' : 'MQTT connected');
    this.everConnected = true;
    this.up = true;
    this.bus.emit('mqtt-connection', { connected: true, reconnects: this.counters.reconnects, ts: this.clock.now() });
  }

  private onClose(client: MqttClient): void {
    if (this.stopping) return;
    // mqtt.js has just scheduled the next attempt with this period.
    this.reconnectDelayMs = client.options.reconnectPeriod ?? 0;
    // Devices without an availability topic are "online" only as far as we have seen;
    // after a gap the next valid message has to say so again.
    for (const entry of this.entries.values()) if (!entry.hasAvailability) entry.online = false;
    const details = { url: this.options.url, retryInMs: this.reconnectDelayMs, reconnects: this.counters.reconnects };
    if (this.up) this.log.warn(details, 'MQTT connection lost; reconnecting with backoff');
    else this.log.debug(details, 'MQTT connection attempt failed');
    this.up = false;
    // One event per failed attempt too, so a status page can show that it keeps trying.
    this.bus.emit('mqtt-connection', { connected: false, reconnects: this.counters.reconnects, ts: this.clock.now() });
  }

  /** Exponential from min to max; jitter takes off up to a quarter, so each step still grows. */
  private backoff(attempt: number): number {
    const { minMs, maxMs } = this.options.reconnect;
    const exp = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
    return Math.max(minMs, Math.round(exp * (1 - Math.random() * 0.25)));
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return;
    this.stopping = true;
    if (this.firstConnect) {
      clearTimeout(this.firstConnect.timer);
      this.firstConnect.resolve();
      this.firstConnect = undefined;
    }
    if (client.connected) {
      // A clean DISCONNECT suppresses the last will, so say "offline" ourselves first.
      await withTimeout(new Promise<void>((resolve) => client.publish(this.statusTopic, 'offline', { qos: 1, retain: true }, () => resolve())), STOP_STEP_MS);
      const ended = await withTimeout(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), STOP_STEP_MS);
      if (!ended) client.stream?.destroy();
    } else {
      await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    }
    const stopped = new RoomctlError(ErrorCode.MqttNotConnected, 'the MQTT adapter stopped before the broker acknowledged this publish');
    for (const reject of this.pending) reject(stopped);
    this.pending.clear();
    this.client = undefined;
    this.log.info({ stats: this.stats() }, 'MQTT adapter stopped');
  }

  async writePoint(point: ResolvedPoint, value: PointValue, commandId: string): Promise<void> {
    const m = point.mqtt;
    if (!m?.commandTopic) throw new RoomctlError(ErrorCode.PointNotWritable, `point ${point.room}/${point.id} has no MQTT command topic`);
    const device = this.entries.get(`${point.room}\u0000${point.device}`)?.device;
    const payload = commandPayload(m, value, commandId, device?.profile.command_id_field ?? 'cmd_id');
    this.counters.commandsSent++;
    try {
      await this.publish(m.commandTopic, payload, { qos: 1, retain: false });
    } catch (err) {
      throw new RoomctlError(ErrorCode.WriteFailed, `command ${commandId} to ${point.room}/${point.id} on ${m.commandTopic} failed: ${(err as Error).message}`, {
        commandId,
        topic: m.commandTopic,
      });
    }
  }

  /**
   * Publishes through the shared connection (QoS 1 unless told otherwise). While the
   * broker is away the message waits in mqtt.js and goes out after reconnect; the
   * promise settles on PUBACK (QoS 1) or once written (QoS 0).
   */
  publish(topic: string, payload: string | Buffer | object, opts: { retain?: boolean; qos?: 0 | 1 } = {}): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return Promise.reject(new RoomctlError(ErrorCode.MqttNotConnected, 'the MQTT adapter is not running'));
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    return new Promise<void>((resolve, reject) => {
      this.pending.add(reject);
      client.publish(topic, body, { qos: opts.qos ?? 1, retain: opts.retain ?? false }, (err) => {
        this.pending.delete(reject);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Calls `handler` for every message matching `filter`; kept across reconnects. Returns an unsubscribe function. */
  subscribe(filter: string, handler: MessageHandler): () => void {
    let entry = this.handlers.get(filter);
    if (!entry) {
      this.handlers.set(filter, (entry = { match: topicMatcher(filter), fns: new Set() }));
      if (this.client?.connected && !this.deviceFilters.has(filter)) this.client.subscribe(filter, { qos: 1 });
    }
    entry.fns.add(handler);
    return () => {
      const current = this.handlers.get(filter);
      if (!current?.fns.delete(handler) || current.fns.size > 0) return;
      this.handlers.delete(filter);
      if (this.client?.connected && !this.deviceFilters.has(filter)) this.client.unsubscribe(filter);
    };
  }

  private onMessage(topic: string, payload: Buffer): void {
    try {
      const route = this.routes.get(topic);
      if (route) this.deviceMessage(topic, route, payload);
      else if (CONTROL_CHARS.test(topic)) {
        const entry = this.bases.find((b) => topic.startsWith(b.prefix))?.entry;
        if (entry) this.reject(entry, topic, 'topic contains control characters');
      }
      // Anything else under a device base (e.g. the echo of our own commands) is not ours to judge.
      if (this.handlers.size > 0) this.dispatch(topic, payload);
    } catch (err) {
      // A bug in a sink or bus listener must not take the connection down with it.
      this.log.error({ topic: shortTopic(topic), err: (err as Error).message }, 'error while handling an MQTT message');
    }
  }

  /** The hot path: one lookup, one JSON.parse, a path walk and a check per point. */
  private deviceMessage(topic: string, route: TopicRoute, payload: Buffer): void {
    this.counters.received++;
    if (payload.length > this.maxPayloadBytes) {
      for (const entry of devicesOf(route)) this.reject(entry, topic, `payload of ${payload.length} bytes is over the ${this.maxPayloadBytes}-byte limit`);
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
        for (const entry of new Set(route.json.map((r) => r.entry))) this.reject(entry, topic, 'payload is not valid JSON');
      }
      if (parsed) {
        let found = 0;
        for (const { point, entry } of route.json) {
          const raw = extract(doc, point.mqtt!.path);
          if (raw === undefined) continue;
          found++;
          if (this.reading(entry, point, raw, topic)) applied = true;
        }
        if (found === 0 && route.availability.length === 0) {
          const fields = route.json.map((r) => r.point.mqtt!.path.join('.')).join(', ');
          const why = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? `has none of the fields ${fields}` : `is not a JSON object with ${fields}`;
          for (const entry of new Set(route.json.map((r) => r.entry))) this.reject(entry, topic, `payload ${why}`);
        }
      }
    }
    if (route.raw.length > 0) {
      const text = payload.toString().trim();
      for (const { point, entry } of route.raw) if (this.reading(entry, point, text, topic)) applied = true;
    }
    if (applied) this.counters.applied++;
  }

  private reading(entry: DeviceEntry, point: ResolvedPoint, raw: unknown, topic: string): boolean {
    const checked = checkReading(point.def, raw, point.mqtt!.map);
    if (!checked.ok) {
      this.reject(entry, topic, `${point.id}: ${checked.reason}`);
      return false;
    }
    if (!entry.online && !entry.hasAvailability) {
      entry.online = true;
      this.sink.deviceStatus(entry.device.room, entry.device.name, true);
    }
    this.sink.reading(point, checked.value);
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
  private reject(entry: DeviceEntry, topic: string, reason: string): void {
    const { room, name } = entry.device;
    entry.rejected++;
    this.counters.rejected++;
    const shown = shortTopic(topic);
    this.sink.rejected(room, name, shown, reason);
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

  private dispatch(topic: string, payload: Buffer): void {
    for (const [filter, { match, fns }] of this.handlers) {
      if (!match(topic)) continue;
      for (const handler of fns) {
        try {
          handler(topic, payload);
        } catch (err) {
          this.log.error({ filter, err: (err as Error).message }, 'an MQTT subscriber failed');
        }
      }
    }
  }
}

function devicesOf(route: TopicRoute): Set<DeviceEntry> {
  return new Set([...route.availability, ...route.json.map((r) => r.entry), ...route.raw.map((r) => r.entry)]);
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
function shortTopic(topic: string): string {
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

/** Resolves true if `p` settled within `ms` (real time: it guards network I/O), false otherwise. */
function withTimeout(p: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    p.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
