import { performance } from 'node:perf_hooks';
import ModbusRTU from 'modbus-serial';
import { ErrorCode, RoomctlError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { DeviceAdapter } from '../model/adapter.ts';
import type { EventBus } from '../model/bus.ts';
import type { Clock } from '../model/clock.ts';
import type { ModbusLink, ResolvedDevice, ResolvedPoint } from '../model/devices.ts';
import type { PointValue } from '../model/points.ts';
import type { PointSink } from '../model/room-state.ts';
import { writeOp } from './modbus-codec.ts';
import { DevicePoller, asRoomctl, type Job, type ModbusClient, type ModbusDeviceStats, type Priority, type RequestQueue } from './modbus-poller.ts';

export type { ModbusDeviceStats } from './modbus-poller.ts';

/**
 * Modbus TCP/RTU adapter: the only module that imports modbus-serial.
 *
 * One connection per link (gateway or host:port); devices behind it share it by
 * unit id. One request in flight per connection; writes jump the poll queue, and
 * reads of units in backoff wait until nothing else is queued. Every request has a
 * real-time timeout (its device's timeout_ms), after which the queue moves on; an
 * optional request_gap_ms paces the gateway. Polling, misses and backoff are
 * modbus-poller.ts; what is read in which request is modbus-plan.ts.
 *
 * What a failure does to quality:
 * - timeout, gateway exceptions 0x0A/0x0B → a miss; after `offline_after` misses in a
 *   row the device is reported offline (its points go `offline`); no connection at
 *   all → offline at once;
 * - any other exception (illegal function/address/value, device failure, busy) or a
 *   malformed answer → the unit is alive but that block gave no data: counted as an
 *   error (sink.rejected, 'payload-rejected' on the bus) and the block's points are
 *   not refreshed, so they turn `stale` when their stale_after_s window runs out. An
 *   illegal address/value on a read that spans unused registers splits the read.
 */
export interface ModbusAdapterOptions {
  /** Unused registers a read may span rather than split into two requests (default 10). */
  gapBridge?: number;
  /** Reconnect backoff, real time: doubles from min to max, with jitter. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export interface ModbusLinkStats {
  requests: number;
  /** Requests finished: answered (a value or an exception), timed out, or cut off with the connection. With `requests`: what is in flight (a simulated day waits for it). */
  completed: number;
  timeouts: number;
  exceptions: number;
  reconnects: number;
  connected: boolean;
}

export interface ModbusAdapterStats {
  /** By link key, e.g. `tcp:10.0.3.20:502`. */
  links: Record<string, ModbusLinkStats>;
  /** By `<room>/<device>`. */
  devices: Record<string, ModbusDeviceStats>;
}

type Client = ModbusRTU;
type QueuedJob = Job & { resolve: (r: { result: unknown; rttMs: number }) => void; reject: (err: RoomctlError) => void };

/** After this many timeouts in a row with no answer from any unit, the connection is presumed half-open and rebuilt. */
const RECYCLE_AFTER_TIMEOUTS = 3;
const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function', 2: 'illegal data address', 3: 'illegal data value', 4: 'device failure', 5: 'acknowledge', 6: 'device busy',
  8: 'memory parity error', 10: 'gateway path unavailable', 11: 'gateway target failed to respond',
};

const notConnected = (why: string) => new RoomctlError(ErrorCode.ModbusNotConnected, why);
const unref = (t: NodeJS.Timeout) => (t.unref(), t);

/** One connection: a queue, a client that is recreated on every reconnect, and its counters. */
class LinkConnection implements RequestQueue {
  readonly stats: ModbusLinkStats = { requests: 0, completed: 0, timeouts: 0, exceptions: 0, reconnects: 0, connected: false };
  private client?: Client;
  private state: 'idle' | 'connecting' | 'open' | 'waiting' | 'stopped' = 'idle';
  private writes: QueuedJob[] = [];
  private reads: QueuedJob[] = [];
  /** Reads of units in backoff: sent only when nothing else waits, so a dead unit's timeout falls in idle time. */
  private probes: QueuedJob[] = [];
  /** Per-gateway pacing: no request before this (performance.now()). */
  private nextSendAt = 0;
  private paceTimer?: NodeJS.Timeout;
  /** Settles the request on the wire, if any (one at a time per connection). */
  private abortInFlight?: (err: RoomctlError) => void;
  private retryTimer?: NodeJS.Timeout;
  private backoffMs: number;
  private everOpened = false;
  private timeoutsInARow = 0;
  readonly label: string;

  constructor(
    readonly link: ModbusLink,
    private logger: Logger,
    private backoff: { min: number; max: number },
  ) {
    this.backoffMs = backoff.min;
    this.label = link.tcp ? `${link.tcp.host}:${link.tcp.port}` : link.rtu!.path;
  }

  start(): void {
    if (this.state === 'idle') this.connect();
  }

  /** Queues one request; writes go before every queued read. Rejects at once when the link is down. */
  request(job: Job, priority: Priority): Promise<{ result: unknown; rttMs: number }> {
    return new Promise((resolve, reject) => {
      if (this.state !== 'open' && this.state !== 'connecting') return reject(notConnected(`no connection to ${this.label}${this.state === 'stopped' ? ' (adapter stopped)' : ''}`));
      const queued = { ...job, resolve, reject };
      if (priority === 'read') insertInOrder(this.reads, queued);
      else (priority === 'write' ? this.writes : this.probes).push(queued);
      this.pump();
    });
  }

  /** Requests waiting (not counting the one on the wire). */
  get queued(): number {
    return this.writes.length + this.reads.length + this.probes.length;
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.paceTimer) clearTimeout(this.paceTimer);
    this.failAll(notConnected(`no connection to ${this.label} (adapter stopped)`));
    await this.discard();
  }

  private pump(): void {
    const client = this.client;
    if (this.abortInFlight || this.paceTimer || this.state !== 'open' || !client) return;
    // A socket error leaves modbus-serial's port closed without a 'close' event: notice it here.
    if (!client.isOpen) return this.dropped('connection lost');
    if (this.queued === 0) return;
    const wait = this.nextSendAt - performance.now();
    if (wait > 0) {
      this.paceTimer = unref(setTimeout(() => ((this.paceTimer = undefined), this.pump()), wait));
      return;
    }
    const job = (this.writes.shift() ?? this.reads.shift() ?? this.probes.shift())!;
    this.stats.requests++;
    const started = performance.now();
    let settled = false;
    const finish = (err: RoomctlError | undefined, result?: unknown) => {
      // A late answer after our timeout is dropped here. (On TCP the transaction id already keeps it
      // apart; RTU has none, so a very late reply could meet the next request and fail its checks.)
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.abortInFlight = undefined;
      if (this.link.requestGapMs) this.nextSendAt = performance.now() + this.link.requestGapMs;
      this.stats.completed++;
      if (err) job.reject(err);
      else job.resolve({ result, rttMs: performance.now() - started });
      if (err?.code === ErrorCode.ModbusTimeout) {
        this.stats.timeouts++;
        if (++this.timeoutsInARow >= RECYCLE_AFTER_TIMEOUTS) return this.recycle();
      } else if (err?.code !== ErrorCode.ModbusNotConnected) this.timeoutsInARow = 0;
      // Not at once: the poller just answered queues its next block in a microtask, and that
      // block goes first (its order); pumping now would send the next unit's read before it.
      setImmediate(() => this.pump());
    };
    const timer = unref(setTimeout(() => finish(new RoomctlError(ErrorCode.ModbusTimeout, `unit ${job.unit} did not answer ${job.what} within ${job.timeoutMs} ms`, { unit: job.unit, link: this.link.key })), job.timeoutMs));
    this.abortInFlight = (e) => finish(e);
    try {
      job.send(client as unknown as ModbusClient, (e, result) => finish(e ? this.classify(e, job) : undefined, result), () => !settled);
    } catch (e) {
      finish(this.classify(e, job));
    }
  }

  private classify(err: unknown, job: Job): RoomctlError {
    const e = err as { modbusCode?: number; message?: string; errno?: string };
    if (typeof e?.modbusCode === 'number') {
      this.stats.exceptions++;
      const name = EXCEPTION_NAMES[e.modbusCode] ?? 'unknown exception';
      return new RoomctlError(ErrorCode.ModbusException, `unit ${job.unit} answered ${job.what} with exception ${e.modbusCode} (${name})`, { unit: job.unit, modbusCode: e.modbusCode });
    }
    if (e?.message === 'Port Not Open') {
      queueMicrotask(() => this.state === 'open' && this.dropped('connection lost'));
      return notConnected(`no connection to ${this.label}`);
    }
    // CRC, length or address mismatch: the unit answered, but not sensibly.
    this.stats.exceptions++;
    return new RoomctlError(ErrorCode.ModbusException, `unit ${job.unit} gave a malformed answer to ${job.what}: ${e?.message ?? String(err)}`, { unit: job.unit });
  }

  private connect(): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    // Always a fresh client: modbus-serial's port stays "not open" after the peer goes away unless the client is recreated.
    const client = new ModbusRTU();
    this.client = client;
    client.on('error', (err: unknown) => this.logger.debug({ link: this.link.key, err: String(err) }, 'modbus port error'));
    client.on('close', () => {
      if (this.client === client && this.state === 'open') this.dropped('connection closed by the peer');
    });
    const connectMs = Math.max(1000, this.link.timeoutMs * 2);
    const timer = unref(setTimeout(() => this.client === client && this.state === 'connecting' && this.connectFailed(`connect timed out after ${connectMs} ms`), connectMs));
    let opening: Promise<void>;
    try {
      const { tcp, rtu } = this.link;
      opening = tcp
        ? client.connectTCP(tcp.host, { port: tcp.port })
        : client.connectRTUBuffered(rtu!.path, { baudRate: rtu!.baud_rate, parity: rtu!.parity, dataBits: rtu!.data_bits, stopBits: rtu!.stop_bits });
    } catch (err) {
      opening = Promise.reject(err);
    }
    opening.then(
      () => {
        clearTimeout(timer);
        if (this.client !== client || this.state !== 'connecting') return void destroy(client);
        this.state = 'open';
        this.stats.connected = true;
        if (this.everOpened) this.stats.reconnects++;
        this.everOpened = true;
        this.backoffMs = this.backoff.min;
        this.logger.info({ link: this.link.key }, 'modbus link connected');
        this.pump();
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (this.client === client && this.state === 'connecting') this.connectFailed((err as Error)?.message ?? String(err));
      },
    );
  }

  private connectFailed(reason: string): void {
    // Said once per outage at warn level; the retries that follow are debug noise.
    const first = this.backoffMs === this.backoff.min;
    this.logger[first ? 'warn' : 'debug']({ link: this.link.key, reason, retryInMs: this.backoffMs }, 'modbus connect failed');
    void this.discard();
    this.failAll(notConnected(`cannot connect to ${this.label}: ${reason}`));
    this.scheduleRetry();
  }

  /** The connection went away: everything waiting on it fails now, and a new client is built after a backoff. */
  private dropped(reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'waiting';
    this.logger.warn({ link: this.link.key, reason }, 'modbus link lost');
    this.stats.connected = false;
    void this.discard();
    this.failAll(notConnected(`no connection to ${this.label}: ${reason}`));
    this.scheduleRetry();
  }

  /** Nobody answered several requests in a row: rebuild the connection, keeping the queue (reconnect is usually instant). */
  private recycle(): void {
    this.logger.warn({ link: this.link.key }, `no answer to ${RECYCLE_AFTER_TIMEOUTS} requests in a row; reconnecting`);
    this.timeoutsInARow = 0;
    this.stats.connected = false;
    void this.discard();
    this.connect();
  }

  private scheduleRetry(): void {
    this.state = 'waiting';
    const delay = this.backoffMs * (0.8 + Math.random() * 0.4);
    this.backoffMs = Math.min(this.backoff.max, this.backoffMs * 2);
    this.retryTimer = unref(setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay));
  }

  private failAll(err: RoomctlError): void {
    this.abortInFlight?.(err);
    for (const job of [...this.writes.splice(0), ...this.reads.splice(0), ...this.probes.splice(0)]) job.reject(err);
  }

  private discard(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    return client ? destroy(client) : Promise.resolve();
  }
}

/** Poll reads by (due, place); reads without an order (a write's read-back) before them, in arrival order. */
function insertInOrder(queue: QueuedJob[], job: QueuedJob): void {
  const key = job.order ?? [-Infinity, 0];
  let i = queue.length;
  while (i > 0) {
    const other = queue[i - 1]!.order ?? [-Infinity, 0];
    if (other[0] < key[0] || (other[0] === key[0] && other[1] <= key[1])) break;
    i--;
  }
  queue.splice(i, 0, job);
}

/** Closes a client's port; TCP sockets are destroyed at once, serial ports are closed (bounded wait). */
function destroy(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const port = (client as unknown as { _port?: { destroy?: unknown } })._port;
    if (!port) return resolve();
    try {
      if (typeof port.destroy === 'function') return client.destroy(() => resolve());
      const guard = unref(setTimeout(resolve, 1000));
      client.close(() => (clearTimeout(guard), resolve()));
    } catch {
      resolve();
    }
  });
}

export class ModbusAdapter implements DeviceAdapter {
  readonly protocol = 'modbus' as const;
  private links = new Map<string, LinkConnection>();
  private pollers = new Map<string, DevicePoller>();

  constructor(
    readonly devices: ResolvedDevice[],
    private sink: PointSink,
    private bus: EventBus,
    private clock: Clock,
    private logger: Logger,
    private options: ModbusAdapterOptions = {},
  ) {}

  async start(): Promise<void> {
    const backoff = { min: this.options.reconnectMinMs ?? 250, max: this.options.reconnectMaxMs ?? 15000 };
    const places = new Map<LinkConnection, number>();
    for (const device of this.devices) {
      if (!device.modbus) continue;
      const { link } = device.modbus;
      let conn = this.links.get(link.key);
      if (!conn) this.links.set(link.key, (conn = new LinkConnection(link, this.logger, backoff)));
      const deps = { sink: this.sink, bus: this.bus, clock: this.clock, logger: this.logger };
      const place = (places.get(conn) ?? 0) + 1;
      places.set(conn, place);
      this.pollers.set(deviceKey(device.room, device.name), new DevicePoller(device, conn, deps, this.options.gapBridge, place));
    }
    for (const conn of this.links.values()) conn.start();
    for (const poller of this.pollers.values()) poller.start();
  }

  async stop(): Promise<void> {
    for (const poller of this.pollers.values()) poller.stop();
    await Promise.all([...this.links.values()].map((l) => l.stop()));
  }

  async writePoint(point: ResolvedPoint, value: PointValue, commandId: string): Promise<void> {
    const poller = this.pollers.get(deviceKey(point.room, point.device));
    if (!poller || !point.modbus) throw new RoomctlError(ErrorCode.PointUnknown, `${point.room}/${point.id} is not a Modbus point of a running device`);
    const op = writeOp(point, value);
    try {
      await poller.write(point, op);
    } catch (err) {
      this.logger.warn({ device: `${point.room}/${point.device}`, point: point.id, commandId, err: asRoomctl(err).message }, 'modbus write failed');
      throw err;
    }
    this.logger.debug({ device: `${point.room}/${point.device}`, point: point.id, commandId }, 'modbus write done');
  }

  /** Requests sent and answered over all links, without copying every counter (a simulated day reads it each event-loop turn). */
  exchanges(): { requests: number; completed: number } {
    let requests = 0;
    let completed = 0;
    for (const conn of this.links.values()) {
      requests += conn.stats.requests;
      completed += conn.stats.completed;
    }
    return { requests, completed };
  }

  stats(): ModbusAdapterStats {
    const links: ModbusAdapterStats['links'] = {};
    for (const [key, conn] of this.links) links[key] = { ...conn.stats };
    const devices: ModbusAdapterStats['devices'] = {};
    for (const [key, poller] of this.pollers) devices[key] = { ...poller.stats };
    return { links, devices };
  }
}

const deviceKey = (room: string, device: string) => `${room}/${device}`;
