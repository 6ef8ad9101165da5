import { ErrorCode, RoomctlError, isRoomctlError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { EventBus } from '../model/bus.ts';
import type { Clock, TimerHandle } from '../model/clock.ts';
import type { ResolvedDevice, ResolvedPoint } from '../model/devices.ts';
import type { PointSink } from '../model/room-state.ts';
import { checkReading } from '../model/values.ts';
import { applyField, maskWriteMasks, type WriteOp } from './modbus-codec.ts';
import { blockOf, decodeBlock, planReads, splitRefusedBlock, type ReadBlock, type ReadPlan } from './modbus-plan.ts';

/**
 * Polls one unit on the injected clock and reports its values and health. Talks to
 * its connection through RequestQueue and to the wire through ModbusClient (the
 * calls of modbus-serial it uses), so this file needs no protocol library.
 *
 * A unit that does not answer (timeout, gateway exception 0x0A/0x0B) counts a miss;
 * after `offlineAfter` misses in a row it is reported offline. From the first miss it
 * is polled at a doubling interval (up to 30 s) and its reads wait until the link has
 * nothing else to send, so each try costs the live units behind the same gateway at
 * most one timeout, in an idle moment. The first answer ends all of it at once.
 */
export type Callback = (err: unknown, result: unknown) => void;

/** The callback-style calls of modbus-serial's client this adapter uses. */
export interface ModbusClient {
  writeFC1(unit: number, address: number, length: number, next: Callback): void;
  writeFC2(unit: number, address: number, length: number, next: Callback): void;
  writeFC3(unit: number, address: number, length: number, next: Callback): void;
  writeFC4(unit: number, address: number, length: number, next: Callback): void;
  writeFC5(unit: number, address: number, state: boolean, next: Callback): void;
  writeFC6(unit: number, address: number, value: number, next: Callback): void;
  writeFC15(unit: number, address: number, states: boolean[], next: Callback): void;
  writeFC16(unit: number, address: number, values: number[], next: Callback): void;
  writeFC22(unit: number, address: number, andMask: number, orMask: number, next: Callback): void;
}

export interface Job {
  unit: number;
  what: string;
  timeoutMs: number;
  /** `live()` turns false once the job timed out: a multi-step job must not send its next step then. */
  send: (client: ModbusClient, cb: Callback, live: () => boolean) => void;
  /**
   * Poll reads: [when the poll was due, the device's place on the link]. Reads go in that
   * order, so each unit's blocks follow each other and the units of a gateway come in
   * the same order every period (their updates stay a period apart); without it, first.
   */
  order?: [number, number];
}

/** writes first, then reads, then reads of units in backoff (only when nothing else waits). */
export type Priority = 'write' | 'read' | 'probe';
export interface RequestQueue {
  request(job: Job, priority: Priority): Promise<{ result: unknown; rttMs: number }>;
}

export interface ModbusDeviceStats {
  polls: number;
  errors: number;
  timeouts: number;
  exceptions: number;
  /** Readings refused by checkReading() (out of range, unknown enum, garbage). */
  rejected: number;
  /** Polls in a row without an answer (0 = healthy). */
  misses: number;
  /** Reads the unit refused that were split to skip its unused registers. */
  splits: number;
  lastLatencyMs?: number;
  lastError?: string;
}

/** An unreachable unit is tried again after its poll period, doubling per miss up to this. */
export const MAX_BACKOFF_MS = 30_000;
const GATEWAY_EXCEPTIONS = new Set([0x0a, 0x0b]);
/** Exceptions that mean "not this range": the read may be split to skip a refused register. */
const RANGE_EXCEPTIONS = new Set([0x02, 0x03]);
const FUNCTION_OF = { coil: 'writeFC1', discrete: 'writeFC2', holding: 'writeFC3', input: 'writeFC4' } as const;

export class DevicePoller {
  readonly stats: ModbusDeviceStats = { polls: 0, errors: 0, timeouts: 0, exceptions: 0, rejected: 0, misses: 0, splits: 0 };
  readonly plan: ReadPlan;
  private timer?: TimerHandle;
  /** When the next poll is due: start + n × poll_ms, so timer lateness never adds up into a longer period. */
  private nextAt = 0;
  private polling = false;
  private stopped = false;
  private retryAt = 0;
  /** When the poll in progress was due (its reads' place in the link's queue). */
  private due = 0;
  /** Read-backs queued but not sent yet, by block: a second write to the same block shares one. */
  private readBacks = new Map<ReadBlock, Promise<void>>();

  constructor(
    readonly device: ResolvedDevice,
    readonly link: RequestQueue,
    private deps: { sink: PointSink; bus: EventBus; clock: Clock; logger: Logger },
    gapBridge: number | undefined,
    /** This device's place among the devices of its link. */
    private seq = 0,
  ) {
    this.plan = planReads(device.points, { gapBridge, layout: device.profile.modbus });
  }

  get unit(): number {
    return this.device.modbus!.unit;
  }

  private get settings() {
    const m = this.device.modbus!;
    return { ...m, timeoutMs: m.timeoutMs ?? m.link.timeoutMs };
  }

  start(): void {
    for (const { point, reason } of this.plan.unplannable) this.reject(`modbus ${point.id}`, reason);
    if (this.plan.blocks.length === 0) return;
    this.nextAt = this.deps.clock.now();
    this.schedule();
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
  }

  private schedule(): void {
    const { pollMs } = this.settings;
    const now = this.deps.clock.now();
    this.nextAt += pollMs;
    if (this.nextAt <= now) this.nextAt = now + pollMs - ((now - this.nextAt) % pollMs); // a stalled process skips the ticks it missed
    const due = this.nextAt;
    this.timer = this.deps.clock.setTimeout(() => {
      if (this.stopped) return;
      this.schedule();
      void this.poll(due);
    }, due - now);
  }

  /** Writes one point; a bit field is read, changed and written as one job, so no other request (ours) lands in between. */
  async write(point: ResolvedPoint, op: WriteOp): Promise<void> {
    const unit = this.unit;
    const what = `write ${op.table} ${op.address} with FC${op.fc} (${point.id})`;
    let send: Job['send'];
    if (op.table === 'coil') send = op.fc === 15 ? (c, cb) => c.writeFC15(unit, op.address, [op.bit], cb) : (c, cb) => c.writeFC5(unit, op.address, op.bit, cb);
    else if ('registers' in op) send = op.fc === 16 ? (c, cb) => c.writeFC16(unit, op.address, op.registers, cb) : (c, cb) => c.writeFC6(unit, op.address, op.registers[0]!, cb);
    else if (op.fc === 22) send = (c, cb) => c.writeFC22(unit, op.address, maskWriteMasks(op).and, maskWriteMasks(op).or, cb);
    else
      send = (c, cb, live) =>
        c.writeFC3(unit, op.address, 1, (err, res) => {
          if (err || !live()) return cb(err ?? new Error('timed out'), undefined);
          const word = applyField((res as { data: number[] }).data[0]!, op);
          if (op.fc === 16) c.writeFC16(unit, op.address, [word], cb);
          else c.writeFC6(unit, op.address, word, cb);
        });
    // A read-modify-write is two round trips on the wire: it gets two timeouts.
    const timeoutMs = this.settings.timeoutMs * ('mask' in op && op.fc !== 22 ? 2 : 1);
    try {
      await this.link.request({ unit, what, timeoutMs, send }, 'write');
    } catch (err) {
      this.failed(asRoomctl(err), `modbus unit ${unit} ${op.table} ${op.address}`, false);
      throw asRoomctl(err);
    }
    void this.readBack(point);
  }

  /** Reads only the block that holds a written point, so a scene's writes do not cost full re-reads. */
  private readBack(point: ResolvedPoint): Promise<void> {
    const block = blockOf(this.plan, point);
    if (!block || this.stopped) return Promise.resolve();
    const queued = this.readBacks.get(block);
    if (queued) return queued;
    const job = readJob(this.unit, block, this.settings.timeoutMs);
    const sendOnce = job.send;
    // Out of the map as soon as it is on the wire: a later write needs a later read.
    job.send = (c, cb, live) => (this.readBacks.delete(block), sendOnce(c, cb, live));
    const done = this.link.request(job, 'read').then(
      (r) => this.apply(block, (r.result as { data: number[] | boolean[] }).data),
      (err) => void this.failed(asRoomctl(err), topicOf(this.unit, block)),
    );
    this.readBacks.set(block, done);
    return done.finally(() => this.readBacks.get(block) === done && this.readBacks.delete(block));
  }

  /**
   * Records a failed request; returns true when it means the unit is unreachable (the
   * poll stops). A read's other exceptions are reported as rejections; a write's go
   * back to its caller instead.
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
    if (!unreachable && isRead) this.reject(topic, err.message, false);
    return unreachable;
  }

  private async poll(due = this.deps.clock.now()): Promise<void> {
    if (this.stopped || this.polling) return; // the previous poll is still queued or running: skip this tick
    if (this.stats.misses > 0 && this.deps.clock.now() < this.retryAt) return;
    this.polling = true;
    this.due = due;
    let answered = 0;
    let slowestMs = 0;
    try {
      const blocks = [...this.plan.blocks];
      for (let i = 0; i < blocks.length; i++) {
        const block = blocks[i]!;
        if (this.stopped) return;
        let response: { result: unknown; rttMs: number };
        try {
          response = await this.read(block, answered === 0);
        } catch (err) {
          const e = asRoomctl(err);
          if (this.failed(e, topicOf(this.unit, block))) return void this.missed(e);
          answered++; // an exception is an answer: the unit is alive
          const split = RANGE_EXCEPTIONS.has(Number(e.details?.modbusCode)) ? this.split(block, e) : undefined;
          if (split) blocks.splice(i + 1, 0, ...split);
          continue;
        }
        answered++;
        slowestMs = Math.max(slowestMs, response.rttMs);
        this.apply(block, (response.result as { data: number[] | boolean[] }).data);
      }
      if (answered > 0 && !this.stopped) {
        this.stats.misses = 0;
        this.stats.lastLatencyMs = Math.round(slowestMs * 10) / 10;
        this.deps.sink.deviceStatus(this.device.room, this.device.name, true, { latencyMs: this.stats.lastLatencyMs });
      }
    } catch (err) {
      this.deps.logger.error({ device: `${this.device.room}/${this.device.name}`, err: String(err) }, 'modbus poll failed unexpectedly');
    } finally {
      this.stats.polls++;
      this.polling = false;
    }
  }

  /** One read; a unit in backoff is probed at low priority, a healthy one's timeout is retried `retries` times. */
  private async read(block: ReadBlock, first: boolean): Promise<{ result: unknown; rttMs: number }> {
    const job = { ...readJob(this.unit, block, this.settings.timeoutMs), order: [this.due, this.seq] as [number, number] };
    const inBackoff = this.stats.misses > 0;
    for (let attempt = 0; ; attempt++) {
      try {
        // A repeat goes straight after the miss (ahead of the queue): the unit was just addressed, and
        // an RTU line may have lost only that one frame.
        return await this.link.request(job, attempt > 0 ? 'write' : inBackoff && first ? 'probe' : 'read');
      } catch (err) {
        if (inBackoff || attempt >= this.settings.retries || !isRoomctlError(err, ErrorCode.ModbusTimeout)) throw err;
        this.stats.timeouts++;
      }
    }
  }

  /** No answer: count the miss, report offline at the threshold (at once if the link itself is down), try later. */
  private missed(err: RoomctlError): void {
    if (this.stopped) return;
    const { pollMs, offlineAfter } = this.settings;
    const linkDown = err.code === ErrorCode.ModbusNotConnected;
    if (!linkDown) {
      this.stats.misses++;
      this.retryAt = this.deps.clock.now() + Math.max(pollMs, Math.min(MAX_BACKOFF_MS, pollMs * 2 ** (this.stats.misses - 1)));
    }
    // A closed connection costs the bus nothing: no backoff, the next tick after the reconnect polls again.
    if (linkDown || this.stats.misses >= offlineAfter) this.deps.sink.deviceStatus(this.device.room, this.device.name, false, { error: err.message });
  }

  /** The unit refused a range: read its points without the gaps from now on, and say what the profile should declare. */
  private split(block: ReadBlock, err: RoomctlError): ReadBlock[] | undefined {
    const parts = splitRefusedBlock(block);
    const at = this.plan.blocks.indexOf(block);
    if (!parts || at < 0) return undefined;
    this.plan.blocks.splice(at, 1, ...parts);
    this.stats.splits++;
    this.deps.logger.warn(
      { device: `${this.device.room}/${this.device.name}`, refused: `${block.table} ${block.address}+${block.count}`, now: parts.map((p) => `${p.address}+${p.count}`).join(', '), err: err.message },
      'modbus unit refused a read across unused registers; reading around them (list them as modbus.no_read in the profile)',
    );
    return parts;
  }

  private apply(block: ReadBlock, data: readonly number[] | readonly boolean[]): void {
    if (this.stopped) return;
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

function readJob(unit: number, block: ReadBlock, timeoutMs: number): Job {
  return { unit, timeoutMs, what: `read ${block.table} ${block.address}+${block.count}`, send: (c, cb) => c[FUNCTION_OF[block.table]](unit, block.address, block.count, cb) };
}

const topicOf = (unit: number, block: ReadBlock) => `modbus unit ${unit} ${block.table} ${block.address}+${block.count}`;

export function asRoomctl(err: unknown): RoomctlError {
  return isRoomctlError(err) ? err : new RoomctlError(ErrorCode.ModbusException, String(err));
}
