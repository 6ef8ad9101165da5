import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { ErrorCode, RoomctlError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { DeviceAdapter } from '../model/adapter.ts';
import type { EventBus } from '../model/bus.ts';
import type { Clock } from '../model/clock.ts';
import type { ResolvedDevice, ResolvedPoint } from '../model/devices.ts';
import type { PointValue } from '../model/points.ts';
import type { PointSink } from '../model/room-state.ts';
import { commandPayload, DeviceMessageReader, DeviceTopicIndex, shortTopic, topicMatcher } from './mqtt-devices.ts';
import { topics } from '../model/topics.ts';

export { commandPayload, topicMatcher } from './mqtt-devices.ts';

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
 * - Reconnects: capped exponential backoff with full jitter (see `ReconnectSchedule`):
 *   attempt n falls at a random instant of its slot, slots growing from minMs to the
 *   maxMs ceiling, so a 5-minute outage costs at most ~11 attempts with the defaults
 *   (1 s, 60 s) whatever the dice say. While waiting, a bare TCP probe every 2 s sees
 *   the broker's port open again and the attempt is made at once (within a few
 *   seconds of the broker's return, not up to a minute later). mqtt.js's interval
 *   timer is replaced by ours; its session machinery is kept (QoS 1 publishes made
 *   while offline wait and unacknowledged ones are resent after reconnect).
 * - A fixed client id gets a persistent session (clean: false): the broker keeps
 *   roomctl's QoS 1 subscriptions and queues what arrives for them (keypad presses)
 *   while roomctl is away or reconnecting.
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
  /** `random` (default Math.random) draws each attempt's instant in its slot (tests pin it). */
  reconnect: { minMs: number; maxMs: number; random?: () => number };
  /** How long start() waits for the first connection before carrying on. */
  firstConnectMs?: number;
  /** Larger device payloads are rejected unparsed. */
  maxPayloadBytes?: number;
  /** TLS (mqtts://, wss://): CA, client certificate and key files, and whether to verify the broker. */
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** Keep the broker-side session across reconnects (default: yes when clientId is given). */
  persistentSession?: boolean;
}

const PROBE_EVERY_MS = 2000;

/**
 * When to try again after the connection is lost: attempt n falls at a uniformly random
 * instant of slot n (full jitter), slot n lasting min(maxMs, minMs·2^n) and slots
 * following one another from the moment the connection was lost. The number of
 * attempts in any span is bounded by the slots it covers; no run of short draws can
 * make it hammer the broker.
 */
export class ReconnectSchedule {
  private slot = 0;
  private slotStart = 0;
  /** Length of the slot the last attempt was drawn from. */
  lastSlotMs = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The connection was lost at `now` (or was up): the schedule starts over. */
  reset(now: number): void {
    this.slot = 0;
    this.slotStart = now;
  }

  /** Milliseconds from `now` until the next attempt. */
  next(now: number): number {
    const length = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.slot, 30));
    const at = this.slotStart + this.random() * length;
    this.lastSlotMs = length;
    this.slotStart += length;
    this.slot++;
    return Math.max(0, Math.round(at - now));
  }
}

export interface MqttAdapterStats {
  /** Messages that arrived on a device state or availability topic. */
  received: number;
  /** Of those, messages that gave at least one valid reading or availability. */
  applied: number;
  /** Rejections (a message can be rejected for several points). */
  rejected: number;
  /** Reconnect attempts since start … */
  reconnects: number;
  /** … of which made early because a probe saw the broker's port open again. */
  probeReconnects: number;
  /** Probes that found the broker's port closed. */
  probesClosed: number;
  commandsSent: number;
  /** The delay last waited (or being waited) before a reconnect attempt … */
  reconnectDelayMs: number;
  /** … drawn from a slot this long (grows from reconnect.minMs to maxMs). */
  reconnectSlotMs: number;
}

export type MessageHandler = (topic: string, payload: Buffer) => void;

const DEFAULT_FIRST_CONNECT_MS = 5000;
const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;
const STOP_STEP_MS = 2000;
const quiet = () => {};

export class MqttAdapter implements DeviceAdapter {
  readonly protocol = 'mqtt' as const;
  private readonly index: DeviceTopicIndex;
  private readonly reader: DeviceMessageReader;
  private readonly deviceFilters: Set<string>;
  private readonly handlers = new Map<string, { match: (topic: string) => boolean; fns: Set<MessageHandler> }>();
  private readonly pending = new Set<(err: Error) => void>();
  private readonly counters = { reconnects: 0, commandsSent: 0, probeReconnects: 0, probesClosed: 0 };
  private readonly statusTopic: string;
  private readonly log: Logger;
  private client?: MqttClient;
  private attempt = 0;
  private reconnectDelayMs = 0;
  private everConnected = false;
  private up = false;
  private errorLogged = false;
  private stopping = false;
  private firstConnect?: { resolve: () => void; timer: NodeJS.Timeout };
  private readonly schedule: ReconnectSchedule;
  private retryTimer?: NodeJS.Timeout;
  private probeTimer?: NodeJS.Timeout;
  /** The last failure was the network (refused, reset, unreachable), not the broker saying no. */
  private networkFailure = true;
  /** A probe found the broker's port closed during this outage. */
  private portSeenClosed = false;

  constructor(
    private readonly options: MqttAdapterOptions,
    readonly devices: ResolvedDevice[],
    sink: PointSink,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    this.log = logger;
    this.statusTopic = topics.status(options.sitePrefix);
    this.index = new DeviceTopicIndex(devices);
    this.deviceFilters = this.index.filters;
    this.schedule = new ReconnectSchedule(options.reconnect.minMs, options.reconnect.maxMs, options.reconnect.random);
    this.reader = new DeviceMessageReader(this.index, sink, bus, clock, logger, options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Messages received and commands sent, without building the whole stats object (a simulated day reads it each event-loop turn). */
  deliveries(): { received: number; commandsSent: number } {
    return { received: this.reader.counters.received, commandsSent: this.counters.commandsSent };
  }

  stats(): MqttAdapterStats {
    return { ...this.reader.counters, ...this.counters, reconnectDelayMs: this.reconnectDelayMs, reconnectSlotMs: this.schedule.lastSlotMs };
  }

  async start(): Promise<void> {
    if (this.client) return;
    this.stopping = false;
    this.schedule.reset(Date.now());
    let client: MqttClient;
    try {
      client = connect(this.options.url, {
        ...this.tlsOptions(),
        clientId: this.options.clientId ?? `roomctl_${Math.random().toString(16).slice(2, 10)}`,
        username: this.options.username,
        password: this.options.password,
        protocolVersion: 4,
        clean: !(this.options.persistentSession ?? this.options.clientId !== undefined),
        keepalive: 30,
        connectTimeout: 10_000,
        // Our ReconnectSchedule decides when; this only keeps mqtt.js in "reconnecting"
        // mode (publishes wait) — its own timer is cleared at every close.
        reconnectPeriod: 3_600_000,
        reconnectOnConnackError: true,
        resubscribe: false,
        will: { topic: this.statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
        // mqtt.js traces every packet through `debug`; even switched off, asking costs more
        // per message than applying a reading. Its trace stays available with DEBUG set.
        log: process.env.DEBUG ? undefined : quiet,
      });
    } catch (err) {
      throw new RoomctlError(ErrorCode.MqttNotConnected, `cannot connect to MQTT broker ${this.options.url}: ${(err as Error).message}`);
    }
    this.client = client;
    client.on('connect', (connack) => this.onConnect(client, connack.sessionPresent));
    client.on('reconnect', () => {
      this.counters.reconnects++;
      this.attempt++;
    });
    client.on('close', () => this.onClose(client));
    client.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      this.networkFailure = typeof code === 'string' && code.startsWith('E');
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
    this.cancelRetry();
    // Device commands are small packets sent one after another (a scene waits for each read-back):
    // without TCP_NODELAY, Nagle holds a command until the last packet is ACKed (~40 ms delayed ACK).
    (client.stream as unknown as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
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
    // mqtt.js has just set its interval timer; ours decides instead.
    (client as unknown as { _clearReconnect(): void })._clearReconnect();
    const now = Date.now();
    if (this.up) {
      this.schedule.reset(now);
      this.networkFailure = true;
      this.portSeenClosed = false;
    }
    this.cancelRetry();
    this.reconnectDelayMs = this.schedule.next(now);
    const attempt = () => {
      this.cancelRetry();
      if (this.stopping || this.client !== client || client.connected) return;
      (client as unknown as { _reconnect(): void })._reconnect();
    };
    this.retryTimer = setTimeout(attempt, this.reconnectDelayMs);
    // A broker that refused us (CONNACK error) is up: only the schedule applies then.
    if (this.networkFailure && this.reconnectDelayMs > PROBE_EVERY_MS) this.probe(attempt);
    // Devices without an availability topic are "online" only as far as we have seen;
    // after a gap the next valid message has to say so again.
    this.reader.connectionLost();
    const details = { url: this.options.url, retryInMs: this.reconnectDelayMs, reconnects: this.counters.reconnects };
    if (this.up) this.log.warn(details, 'MQTT connection lost; reconnecting with backoff');
    else this.log.debug(details, 'MQTT connection attempt failed');
    this.up = false;
    // One event per failed attempt too, so a status page can show that it keeps trying.
    this.bus.emit('mqtt-connection', { connected: false, reconnects: this.counters.reconnects, ts: this.clock.now() });
  }

  /** While waiting for the next attempt: is the broker's port open again? Then try now. */
  private probe(attempt: () => void): void {
    const target = probeTarget(this.options.url);
    if (!target) return;
    const once = () => {
      this.probeTimer = undefined;
      if (this.stopping || !this.retryTimer) return;
      const socket = tcpConnect({ host: target.host, port: target.port });
      socket.setTimeout(PROBE_EVERY_MS);
      const done = (open: boolean) => {
        socket.destroy();
        if (!this.retryTimer || this.stopping) return;
        // Only a change from closed to open means the broker is back: a port that is
        // open all along (a broker refusing us, a load balancer) is left to the schedule.
        if (open && this.portSeenClosed) {
          this.portSeenClosed = false;
          this.counters.probeReconnects++;
          return attempt();
        }
        if (!open) {
          this.portSeenClosed = true;
          this.counters.probesClosed++;
        }
        this.probeTimer = setTimeout(once, PROBE_EVERY_MS);
      };
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
      socket.once('timeout', () => done(false));
    };
    this.probeTimer = setTimeout(once, PROBE_EVERY_MS);
  }

  private cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.retryTimer = undefined;
    this.probeTimer = undefined;
  }

  private tlsOptions(): Partial<IClientOptions> {
    const t = this.options.tls;
    if (!t) return {};
    const read = (f: string | undefined, what: string) => {
      if (!f) return undefined;
      try {
        return readFileSync(f);
      } catch (err) {
        throw new RoomctlError(ErrorCode.MqttNotConnected, `cannot read the MQTT TLS ${what} ${f}: ${(err as Error).message}`);
      }
    };
    return { ca: read(t.ca, 'CA file'), cert: read(t.cert, 'certificate'), key: read(t.key, 'key'), rejectUnauthorized: t.rejectUnauthorized ?? true };
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return;
    this.stopping = true;
    this.cancelRetry();
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
    const device = this.index.device(point.room, point.device)?.device;
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
      this.reader.message(topic, payload);
      if (this.handlers.size > 0) this.dispatch(topic, payload);
    } catch (err) {
      // A bug in a sink or bus listener must not take the connection down with it.
      this.log.error({ topic: shortTopic(topic), err: (err as Error).message }, 'error while handling an MQTT message');
    }
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

/** Host and port for the TCP probe (mqtt://, mqtts://, tcp://; not WebSockets). */
function probeTarget(url: string): { host: string; port: number } | undefined {
  try {
    const u = new URL(url);
    const defaults: Record<string, number> = { 'mqtt:': 1883, 'tcp:': 1883, 'mqtts:': 8883, 'ssl:': 8883, 'tls:': 8883 };
    if (!(u.protocol in defaults)) return undefined;
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : defaults[u.protocol]! };
  } catch {
    return undefined;
  }
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
