import mqtt, { type MqttClient } from 'mqtt';
import type { PointDef } from '../../controller/src/config/profile-schema.ts';
import type { PointValue } from '../../controller/src/model/points.ts';
import { checkReading } from '../../controller/src/model/values.ts';
import { pointKey, type SimDevice } from './sim-device.ts';
import type { SimStats } from './stats.ts';

/**
 * One simulated MQTT device on the wire: its own mqtt.js connection (so it has
 * its own last will), state published exactly on the profile's topics, paths and
 * value maps, commands taken from the profile's command topics. A repeated
 * cmd_id is ignored, as a device that already acted on it would.
 */
export interface MqttLinkOptions {
  brokerUrl: string;
  clientId: string;
  username?: string;
  password?: string;
  stats: SimStats;
  /** Republish unchanged state this often, so the controller never sees it go stale. */
  refreshMs: number;
  /** A changed value waits at least this long after the last publish (sensors report on an interval). */
  minIntervalMs: number;
  /** True while fault `sensor_garbage` targets this device. */
  garbage: () => boolean;
  /** A command was applied; the building records and republishes. */
  onCommand: (link: MqttDeviceLink, keys: string[]) => void;
}

interface StateEntry {
  key: string;
  path: string[];
  map?: Record<string, PointValue>;
  def: PointDef;
}
interface StateTopic {
  format: 'json' | 'raw';
  entries: StateEntry[];
  last?: string;
  lastAt: number;
}
interface CommandEntry {
  key: string;
  def: PointDef;
  format: 'json' | 'raw';
  /** Where "{value}" sits in the command template; [] = the whole payload. */
  valuePath: string[] | undefined;
}

const REMEMBERED_COMMAND_IDS = 200;

export class MqttDeviceLink {
  private client: MqttClient | undefined;
  /**
   * While the device is cut off (device_offline, a reboot) a stand-in subscriber with the
   * device's login takes the commands the controller still sends before it hears the last
   * will, and counts them as delivered-and-lost: the broker drops them for the absent
   * device, so without it a settle would wait for them until the device came back (every
   * timer batch of the rest of the day gave up after 10 s: fault days took hours).
   */
  private ghost: MqttClient | undefined;
  /** The device's own connection is up and subscribed: it takes (and counts) commands. */
  private live = false;
  /** Being cut off: from that instant it publishes nothing (a rebooted model must not be heard before its last will). */
  private cutting = false;
  private states = new Map<string, StateTopic>();
  private commands = new Map<string, CommandEntry[]>();
  private seenIds = new Set<string>();
  private garbageCount = 0;
  /** QoS 1 publishes not yet acknowledged by the broker. */
  private inFlight = new Set<{ settled: boolean }>();

  constructor(
    readonly model: SimDevice,
    private opts: MqttLinkOptions,
  ) {
    const device = model.device;
    for (const p of device.points) {
      const m = p.mqtt;
      if (!m) continue;
      const key = pointKey(device, p.id);
      if (m.stateTopic) {
        let topic = this.states.get(m.stateTopic);
        if (!topic) this.states.set(m.stateTopic, (topic = { format: m.stateFormat, entries: [], lastAt: Number.NEGATIVE_INFINITY }));
        topic.entries.push({ key, path: m.path, map: m.map, def: p.def });
      }
      if (m.commandTopic) {
        const list = this.commands.get(m.commandTopic) ?? [];
        list.push({ key, def: p.def, format: m.commandFormat, valuePath: findValuePath(m.commandPayload) });
        this.commands.set(m.commandTopic, list);
      }
    }
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Connects, announces itself online and publishes its whole state. */
  async start(now: number): Promise<void> {
    this.opts.stats.connecting++;
    try {
      await this.connect(now);
    } finally {
      this.opts.stats.connecting--;
    }
  }

  /** A device that rebooted has forgotten the command ids it acted on. */
  forgetCommands(): void {
    this.seenIds.clear();
  }

  private async connect(now: number): Promise<void> {
    const availability = this.model.device.mqtt?.availability;
    const client = mqtt.connect(this.opts.brokerUrl, {
      clientId: this.opts.clientId,
      username: this.opts.username,
      password: this.opts.password,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      keepalive: 30,
      will: availability ? { topic: availability.topic, payload: Buffer.from(availabilityPayload(availability.path, availability.offline)), qos: 1, retain: true } : undefined,
    });
    this.client = client;
    // Small state messages must not sit in Nagle's buffer waiting for an ACK: a
    // device answers at once, and a stepped clock relies on prompt delivery.
    client.on('connect', () => (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true));
    client.on('error', () => {}); // reconnects on its own; the broker going away is not a device fault
    client.on('message', (topic, payload) => {
      // A closing or not yet subscribed connection's commands are the stand-in's to count.
      if (this.live && this.client === client) this.onMessage(topic, payload);
    });
    client.on('connect', () => {
      if (availability) this.publish(availability.topic, availabilityPayload(availability.path, availability.online));
    });
    await new Promise<void>((resolve, reject) => {
      // A network guard on real time: the broker must be there when the building starts.
      const timer = setTimeout(() => fail(new Error('no answer within 15 s')), 15_000);
      const done = () => {
        clearTimeout(timer);
        client.off('connect', connected);
        client.off('error', fail);
      };
      const connected = () => {
        done();
        resolve();
      };
      const fail = (err: Error) => {
        done();
        client.end(true);
        if (this.client === client) this.client = undefined;
        reject(new Error(`simulated device ${this.opts.clientId} cannot reach ${this.opts.brokerUrl}: ${err.message}`));
      };
      client.on('connect', connected);
      client.on('error', fail);
    });
    if (this.commands.size > 0) await client.subscribeAsync([...this.commands.keys()], { qos: 1 });
    this.live = true;
    this.publishDue(now, true);
  }

  /** Subscribes the stand-in (before the device's own connection is cut, so no command slips past both). */
  private async startGhost(): Promise<void> {
    if (this.ghost || this.commands.size === 0) return;
    const ghost = mqtt.connect(this.opts.brokerUrl, { clientId: `${this.opts.clientId}-cut`, username: this.opts.username, password: this.opts.password, clean: true, reconnectPeriod: 1000 });
    this.ghost = ghost;
    ghost.on('error', () => {});
    ghost.on('message', () => {
      if (!this.live) this.opts.stats.commands++;
    });
    await ghost.subscribeAsync([...this.commands.keys()], { qos: 1 }).catch(() => {});
  }

  private async stopGhost(): Promise<void> {
    const ghost = this.ghost;
    this.ghost = undefined;
    await ghost?.endAsync(true).catch(() => {});
  }

  /** Says goodbye (availability offline, retained) and disconnects. */
  async stop(): Promise<void> {
    await this.stopGhost();
    const client = this.client;
    this.live = false;
    this.client = undefined;
    if (!client) return;
    const availability = this.model.device.mqtt?.availability;
    if (availability && client.connected) this.publish(availability.topic, availabilityPayload(availability.path, availability.offline), client);
    await client.endAsync(false).catch(() => {});
    this.dropInFlight();
  }

  /** Fault `device_offline`: the connection drops (the broker publishes the last will); clearing reconnects. */
  async setOffline(offline: boolean, now: number): Promise<void> {
    if (offline && this.client) {
      this.cutting = true;
      await this.startGhost();
      const client = this.client;
      this.live = false;
      this.client = undefined;
      await client.endAsync(true).catch(() => {});
      this.cutting = false;
      this.dropInFlight();
      // The broker now publishes this device's last will on its behalf: counted as the device's own
      // publish (delivered, never acknowledged to us), so a settle's delivery count stays exact.
      const availability = this.model.device.mqtt?.availability;
      if (availability) {
        this.opts.stats.notePublished(availability.topic);
        this.opts.stats.publishSettled++;
      }
    } else if (!offline && !this.client) {
      for (const t of this.states.values()) t.last = undefined;
      await this.start(now);
      await this.stopGhost();
    }
  }

  /** Publishes topics whose payload changed (or is due for a refresh); `force` publishes all. */
  publishDue(now: number, force = false, touched: ReadonlySet<string> = new Set()): void {
    if (!this.connected || this.cutting) return;
    for (const [topic, t] of this.states) {
      const payload = this.opts.garbage() ? this.garbagePayload(t) : this.payload(t);
      if (payload === undefined) continue;
      const since = now - t.lastAt;
      const changed = payload !== t.last && since >= this.opts.minIntervalMs;
      if (!force && !changed && !touched.has(topic) && since < this.opts.refreshMs) continue;
      t.last = payload;
      t.lastAt = now;
      this.publish(topic, payload);
    }
  }

  /** State topics that carry a point key. */
  topicsOf(keys: Iterable<string>): Set<string> {
    const wanted = new Set(keys);
    const out = new Set<string>();
    for (const [topic, t] of this.states) if (t.entries.some((e) => wanted.has(e.key))) out.add(topic);
    return out;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const stats = this.opts.stats;
    stats.commands++;
    const entries = this.commands.get(topic);
    if (!entries) return;
    const text = payload.toString('utf8');
    let body: unknown = text;
    if (entries.some((e) => e.format === 'json')) {
      try {
        body = JSON.parse(text);
      } catch {
        stats.badCommands++;
        return;
      }
    }
    const idField = this.model.device.profile.command_id_field;
    const id = body && typeof body === 'object' ? (body as Record<string, unknown>)[idField] : undefined;
    if (typeof id === 'string' || typeof id === 'number') {
      if (this.seenIds.has(String(id))) {
        stats.repeatedCommands++;
        return;
      }
      this.seenIds.add(String(id));
      if (this.seenIds.size > REMEMBERED_COMMAND_IDS) this.seenIds.delete(this.seenIds.values().next().value!);
    }
    const applied: string[] = [];
    for (const e of entries) {
      if (!e.valuePath) continue;
      const raw = e.valuePath.length === 0 ? body : getPath(body, e.valuePath);
      if (raw === undefined) continue;
      const checked = checkReading(e.def, raw);
      if (checked.ok && this.model.write(e.key, checked.value)) applied.push(e.key);
    }
    if (applied.length === 0) {
      stats.badCommands++;
      return;
    }
    this.opts.onCommand(this, applied);
  }

  private payload(t: StateTopic): string | undefined {
    let whole: unknown;
    const obj: Record<string, unknown> = {};
    let any = false;
    for (const e of t.entries) {
      const v = this.model.read(e.key);
      if (v === undefined) continue;
      any = true;
      const out = toDevice(v, e.map);
      if (e.path.length === 0) whole = out;
      else setPath(obj, e.path, out);
    }
    if (!any) return undefined;
    if (t.format === 'raw') return whole === undefined ? undefined : String(whole);
    return JSON.stringify(whole !== undefined ? whole : obj);
  }

  /** Fault `sensor_garbage`: broken JSON, wrong types, impossible values, in turn. */
  private garbagePayload(t: StateTopic): string {
    const n = this.garbageCount++ % 3;
    if (t.format === 'raw') return ['???', '', 'AJAR'][n]!;
    if (n === 0) return '{"broken": ';
    const obj: Record<string, unknown> = {};
    for (const e of t.entries) {
      if (e.path.length === 0) continue;
      const impossible = e.def.type === 'number' ? (e.def.max ?? 1e6) * 10 + 1 : 12345;
      setPath(obj, e.path, n === 1 ? 'garbage' : impossible);
    }
    return JSON.stringify(obj);
  }

  private publish(topic: string, payload: string, client = this.client): void {
    if (!client) return;
    const stats = this.opts.stats;
    stats.notePublished(topic);
    const flight = { settled: false };
    this.inFlight.add(flight);
    client.publish(topic, payload, { qos: 1, retain: true }, () => this.settled(flight));
  }

  private settled(flight: { settled: boolean }): void {
    if (flight.settled) return;
    flight.settled = true;
    this.inFlight.delete(flight);
    this.opts.stats.publishSettled++;
  }

  /**
   * A connection cut on purpose (device_offline, a reboot) loses what it had in flight;
   * mqtt.js may never call those callbacks, and a settle must not wait for them forever.
   */
  private dropInFlight(): void {
    for (const flight of [...this.inFlight]) this.settled(flight);
  }
}

/** Point value → what the device puts on the wire (display power true → "ON"). */
function toDevice(v: PointValue, map?: Record<string, PointValue>): unknown {
  if (!map) return v;
  const entry = Object.entries(map).find(([, mapped]) => mapped === v);
  return entry ? entry[0] : v;
}

function availabilityPayload(path: string[], value: unknown): string {
  if (path.length === 0) return String(value);
  const obj: Record<string, unknown> = {};
  setPath(obj, path, value);
  return JSON.stringify(obj);
}

function findValuePath(template: unknown, at: string[] = []): string[] | undefined {
  if (template === '{value}') return at;
  if (template && typeof template === 'object' && !Array.isArray(template))
    for (const [k, v] of Object.entries(template)) {
      const found = findValuePath(v, [...at, k]);
      if (found) return found;
    }
  return undefined;
}

function getPath(body: unknown, path: string[]): unknown {
  let cur = body;
  for (const p of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  path.forEach((p, i) => {
    if (i === path.length - 1) cur[p] = value;
    else cur = (cur[p] ??= {}) as Record<string, unknown>;
  });
}
