import { performance } from 'node:perf_hooks';
import ModbusRTU from 'modbus-serial';
import { ErrorCode, RoomctlError, isRoomctlError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { DeviceAdapter } from '../model/adapter.ts';
import type { EventBus } from '../model/bus.ts';
import { every, type Clock } from '../model/clock.ts';
import type { ModbusLink, ResolvedDevice, ResolvedPoint } from '../model/devices.ts';
import type { PointValue } from '../model/points.ts';
import type { PointSink } from '../model/room-state.ts';
import { checkReading } from '../model/values.ts';
import { decodeBlock, encodePoint, planReads, type ReadBlock, type ReadPlan } from './modbus-codec.ts';

/**
 * Modbus TCP/RTU adapter: the only module that imports modbus-serial.
 *
 * One connection per link (gateway or host:port); devices behind it share it by
 * unit id. One request in flight per connection; writes jump the poll queue. Every
 * request has a real-time timeout (link.timeoutMs), after which the queue moves on;
 * a unit that stays silent is tried at a doubling interval (its poll period up to
 * 30 s), so one dead unit costs at most one timeout per 30 s and its neighbours keep
 * their poll period.
 *
 * What a failure does to quality:
 * - timeout, no connection, gateway exceptions 0x0A/0x0B → the device is reported
 *   offline (its points go `offline`) and the rest of that poll is skipped;
 * - any other exception (illegal function/address/value, device failure, busy) or a
 *   malformed answer → the unit is alive but that block gave no data: counted as an
 *   error (sink.rejected, 'payload-rejected' on the bus) and the block's points are
 *   not refreshed, so they turn `stale` when their stale_after_s window runs out.
 *   Marking the whole device offline would be wrong (its other blocks still answer)
 *   and would make it flap on every poll.
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
  timeouts: number;
  exceptions: number;
  reconnects: number;
  connected: boolean;
}

export interface ModbusDeviceStats {
  polls: number;
  errors: number;
  timeouts: number;
  exceptions: number;
  /** Readings refused by checkReading() (out of range, unknown enum, garbage). */
  rejected: number;
  lastLatencyMs?: number;
  lastError?: string;
}

export interface ModbusAdapterStats {
  /** By link key, e.g. `tcp:10.0.3.20:502`. */
  links: Record<string, ModbusLinkStats>;
  /** By `<room>/<device>`. */
  devices: Record<string, ModbusDeviceStats>;
}

type Client = ModbusRTU;
type Callback = (err: unknown, result: unknown) => void;
interface Job {
  unit: number;
  what: string;
  send: (client: Client, cb: Callback) => void;
  resolve: (r: { result: unknown; rttMs: number }) => void;
  reject: (err: RoomctlError) => void;
}

/** An unreachable unit is tried again after its poll period, doubling per miss up to this. */
const MAX_BACKOFF_MS = 30_000;
/** After this many timeouts in a row with no answer from any unit, the connection is presumed half-open and rebuilt. */
const RECYCLE_AFTER_TIMEOUTS = 3;
const GATEWAY_EXCEPTIONS = new Set([0x0a, 0x0b]);
const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function', 2: 'illegal data address', 3: 'illegal data value', 4: 'device failure', 5: 'acknowledge', 6: 'device busy',
  8: 'memory parity error', 10: 'gateway path unavailable', 11: 'gateway target failed to respond',
};

const notConnected = (why: string) => new RoomctlError(ErrorCode.ModbusNotConnected, why);
const unref = (t: NodeJS.Timeout) => (t.unref(), t);

/** One connection: a queue, a client that is recreated on every reconnect, and its counters. */
class LinkConnection {
  readonly stats: ModbusLinkStats = { requests: 0, timeouts: 0, exceptions: 0, reconnects: 0, connected: false };
  private client?: Client;
  private state: 'idle' | 'connecting' | 'open' | 'waiting' | 'stopped' = 'idle';
  private writes: Job[] = [];
  private reads: Job[] = [];
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
  request(job: Omit<Job, 'resolve' | 'reject'>, priority: boolean): Promise<{ result: unknown; rttMs: number }> {
    return new Promise((resolve, reject) => {
      if (this.state !== 'open' && this.state !== 'connecting') return reject(notConnected(`no connection to ${this.label}${this.state === 'stopped' ? ' (adapter stopped)' : ''}`));
      (priority ? this.writes : this.reads).push({ ...job, resolve, reject });
      this.pump();
    });
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.failAll(notConnected(`no connection to ${this.label} (adapter stopped)`));
    await this.discard();
  }

  private pump(): void {
    const client = this.client;
    if (this.abortInFlight || this.state !== 'open' || !client) return;
    // A socket error leaves modbus-serial's port closed without a 'close' event: notice it here.
    if (!client.isOpen) return this.dropped('connection lost');
    const job = this.writes.shift() ?? this.reads.shift();
    if (!job) return;
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
      if (err) job.reject(err);
      else job.resolve({ result, rttMs: performance.now() - started });
      if (err?.code === ErrorCode.ModbusTimeout) {
        this.stats.timeouts++;
        if (++this.timeoutsInARow >= RECYCLE_AFTER_TIMEOUTS) return this.recycle();
      } else if (err?.code !== ErrorCode.ModbusNotConnected) this.timeoutsInARow = 0;
      this.pump();
    };
    const timer = unref(setTimeout(() => finish(new RoomctlError(ErrorCode.ModbusTimeout, `unit ${job.unit} did not answer ${job.what} within ${this.link.timeoutMs} ms`, { unit: job.unit, link: this.link.key })), this.link.timeoutMs));
    this.abortInFlight = (e) => finish(e);
    try {
      job.send(client, (e, result) => finish(e ? this.classify(e, job) : undefined, result));
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
    for (const job of [...this.writes.splice(0), ...this.reads.splice(0)]) job.reject(err);
  }

  private discard(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    return client ? destroy(client) : Promise.resolve();
  }
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

/** Polls one unit on the injected clock and reports its values and health. */
class DevicePoller {
  readonly stats: ModbusDeviceStats = { polls: 0, errors: 0, timeouts: 0, exceptions: 0, rejected: 0 };
  readonly plan: ReadPlan;
  private stopTimer?: () => void;
  private polling = false;
  private again = false;
  private stopped = false;
  /** Polls in a row that found the unit unreachable, and when to try it again. */
  private misses = 0;
  private retryAt = 0;

  constructor(
    readonly device: ResolvedDevice,
    readonly link: LinkConnection,
    private deps: { sink: PointSink; bus: EventBus; clock: Clock; logger: Logger },
    gapBridge: number | undefined,
  ) {
    this.plan = planReads(device.points, { gapBridge });
  }

  get unit(): number {
    return this.device.modbus!.unit;
  }

  start(): void {
    for (const { point, reason } of this.plan.unplannable) this.reject(`modbus ${point.id}`, reason);
    if (this.plan.blocks.length === 0) return;
    this.stopTimer = every(this.deps.clock, this.device.modbus!.pollMs, () => void this.poll());
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    this.stopTimer?.();
  }

  /** Re-read soon (after a write): now if idle, else right after the poll in progress. */
  pollSoon(): void {
    if (this.polling) this.again = true;
    else void this.poll();
  }

  /**
   * Records a failed request; returns true when it means the unit is unreachable (the
   * poll stops). A read's other exceptions are also reported as rejections; a write's
   * go back to its caller instead.
   */
  failed(err: RoomctlError, topic: string, isRead = true): boolean {
    if (this.stopped) return true; // shutting down: not the device's fault
    const s = this.stats;
    s.errors++;
    s.lastError = err.message;
    const code = err.details?.modbusCode;
    const unreachable = err.code !== ErrorCode.ModbusException || (typeof code === 'number' && GATEWAY_EXCEPTIONS.has(code));
    if (err.code === ErrorCode.ModbusTimeout) s.timeouts++;
    if (err.code === ErrorCode.ModbusException) s.exceptions++;
    if (unreachable) this.deps.sink.deviceStatus(this.device.room, this.device.name, false, { error: err.message });
    else if (isRead) this.reject(topic, err.message, false);
    return unreachable;
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    if (this.polling) return; // the previous poll is still queued or running: skip this tick
    // A unit that does not answer is tried less and less often (up to every 30 s): each try
    // costs a full timeout on the shared link, which the live units behind the gateway wait out.
    if (this.misses > 0 && this.deps.clock.now() < this.retryAt) return;
    this.polling = true;
    let answered = 0;
    let slowestMs = 0;
    try {
      for (const block of this.plan.blocks) {
        if (this.stopped) return;
        let response: { result: unknown; rttMs: number };
        try {
          response = await this.link.request(readJob(this.unit, block), false);
        } catch (err) {
          if (this.failed(asRoomctl(err), topicOf(this.unit, block))) {
            if (!this.stopped) this.backOff();
            return;
          }
          continue;
        }
        answered++;
        slowestMs = Math.max(slowestMs, response.rttMs);
        this.apply(block, (response.result as { data: number[] | boolean[] }).data);
      }
      if (answered > 0 && !this.stopped) {
        this.misses = 0;
        this.stats.lastLatencyMs = Math.round(slowestMs * 10) / 10;
        this.deps.sink.deviceStatus(this.device.room, this.device.name, true, { latencyMs: this.stats.lastLatencyMs });
      }
    } catch (err) {
      this.deps.logger.error({ device: `${this.device.room}/${this.device.name}`, err: String(err) }, 'modbus poll failed unexpectedly');
    } finally {
      this.stats.polls++;
      this.polling = false;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.poll();
      }
    }
  }

  private backOff(): void {
    const pollMs = this.device.modbus!.pollMs;
    this.misses++;
    this.retryAt = this.deps.clock.now() + Math.max(pollMs, Math.min(MAX_BACKOFF_MS, pollMs * 2 ** (this.misses - 1)));
  }

  private apply(block: ReadBlock, data: readonly number[] | readonly boolean[]): void {
    for (const d of decodeBlock(block, data ?? [])) {
      const checked = d.ok ? checkReading(d.point.def, d.value) : d;
      if (checked.ok) this.deps.sink.reading(d.point, checked.value);
      else this.reject(`${topicOf(this.unit, block)} ${d.point.id}`, checked.reason);
    }
  }

  /** Counted and reported, never applied. */
  private reject(topic: string, reason: string, isValue = true): void {
    const { room, name } = this.device;
    if (isValue) {
      this.stats.rejected++;
      this.stats.errors++;
      this.stats.lastError = reason;
    }
    this.deps.sink.rejected(room, name, topic, reason);
    this.deps.bus.emit('payload-rejected', { room, device: name, topic, reason, count: this.stats.rejected + this.stats.exceptions, ts: this.deps.clock.now() });
    this.deps.logger.debug({ device: `${room}/${name}`, topic, reason }, 'modbus value rejected');
  }
}

const FUNCTION_OF = { coil: 'writeFC1', discrete: 'writeFC2', holding: 'writeFC3', input: 'writeFC4' } as const;

function readJob(unit: number, block: ReadBlock): Omit<Job, 'resolve' | 'reject'> {
  return { unit, what: `read ${block.table} ${block.address}+${block.count}`, send: (c, cb) => c[FUNCTION_OF[block.table]](unit, block.address, block.count, cb as never) };
}

const topicOf = (unit: number, block: ReadBlock) => `modbus unit ${unit} ${block.table} ${block.address}+${block.count}`;

function asRoomctl(err: unknown): RoomctlError {
  return isRoomctlError(err) ? err : new RoomctlError(ErrorCode.ModbusException, String(err));
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
    for (const device of this.devices) {
      if (!device.modbus) continue;
      const { link } = device.modbus;
      let conn = this.links.get(link.key);
      if (!conn) this.links.set(link.key, (conn = new LinkConnection(link, this.logger, backoff)));
      const deps = { sink: this.sink, bus: this.bus, clock: this.clock, logger: this.logger };
      this.pollers.set(deviceKey(device.room, device.name), new DevicePoller(device, conn, deps, this.options.gapBridge));
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
    const req = encodePoint(point, value);
    const unit = poller.unit;
    const what = `write ${req.table} ${req.address} (${point.id})`;
    const send: Job['send'] =
      req.table === 'coil'
        ? (c, cb) => c.writeFC5(unit, req.address, req.bit, cb as never)
        : req.registers.length === 1
          ? (c, cb) => c.writeFC6(unit, req.address, req.registers[0]!, cb as never)
          : (c, cb) => c.writeFC16(unit, req.address, req.registers, cb as never);
    try {
      await poller.link.request({ unit, what, send }, true);
    } catch (err) {
      const e = asRoomctl(err);
      poller.failed(e, `modbus unit ${unit} ${req.table} ${req.address}`, false);
      this.logger.warn({ device: `${point.room}/${point.device}`, point: point.id, commandId, err: e.message }, 'modbus write failed');
      throw e;
    }
    this.logger.debug({ device: `${point.room}/${point.device}`, point: point.id, commandId }, 'modbus write done');
    poller.pollSoon(); // read-back within one round trip instead of one poll period
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
