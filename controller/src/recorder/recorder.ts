import { influxSchema, type InfluxConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { EventBus } from '../model/bus.ts';
import { every, type Clock } from '../model/clock.ts';
import type { DeviceHealth, PointUpdate } from '../model/points.ts';
import { InfluxConnection, type RetentionSpec } from '../adapters/influx.ts';
import { LineEncoder, type Series } from './line-protocol.ts';
import { Rollup, type RollupSlot } from './rollup.ts';
import { activityRow, phaseRow, alertRow, commandRow, deviceRow, meetingRow, readinessRow, RP, telemetryFields, telemetryRow, type RoutedRow } from './rows.ts';
import { Spool } from './spool.ts';
import { BatchWriter, type WriterTruth } from './writer.ts';
import { Slices } from './slices.ts';

/** What the recorder needs of the site: its id (and time zone, for dates in its log), and each device's kind (for energy figures). */
export interface RecorderSite {
  config: { site: { id: string; timezone?: string } };
  rooms: readonly { id: string; devices: readonly { name: string; profile: { kind: string } }[] }[];
}

export interface RecorderDeps {
  /** The config's `influx` section (parsed), or undefined: then everything stays in the spool. */
  influx: InfluxConfig | undefined;
  site: RecorderSite;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  /** Spool directory when `influx.spool_dir` is not set. */
  spoolDir: string;
}

/** The writer's counts (written, refused and dropped by cause, spooled, queued) and the recorder's own. */
export interface RecorderStats extends WriterTruth {
  /** Events that could not be turned into a valid point (counted, logged, skipped). */
  invalid: number;
}

interface PointEntry {
  u: PointUpdate;
  lastWrite: number;
  /** The latest tick whose flat-line check has seen this point (slices.ts). */
  checkedAt: number;
  series: Series;
  slot: RollupSlot;
}

/** At this share of the spool bound: a warning and an alert. */
const NEAR_FULL = 0.8;
/** Alerts clear once the spool is back under this share. */
const CLEAR_BELOW = 0.5;

/**
 * Records everything roomctl observes and does into InfluxDB: telemetry (each point
 * change, plus a sample of every flat point each `sample_every_s`, plus 5-minute means),
 * readiness (each check outcome), meeting (each verdict), event (scenes, steps, closes,
 * routines, no-shows, alerts, commands) and device (online, latency, errors). Batched,
 * spooled to disk whenever InfluxDB is away, and never a meeting title (P15).
 */
export class Recorder {
  readonly name = 'recorder';
  private writer?: BatchWriter;
  private spool?: Spool;
  private conn?: InfluxConnection;
  private encoder = new LineEncoder();
  private rollup?: Rollup;
  private unsubscribe: (() => void)[] = [];
  private stopTick?: () => void;
  /** Per room, per point: its latest update, when it was last written, its series and rollup slot (hot path). */
  private points = new Map<string, Map<string, PointEntry>>();
  private devices = new Map<string, { online: boolean; errors: number; lastWrite: number; latencyMax?: number }>();
  private invalid = 0;
  private lastInvalidLog = 0;
  private lastDropLog = 0;
  private alerts = { near: false, full: false };
  private cfg!: InfluxConfig;
  private slices = new Slices((err) => this.deps.logger.error({ err: (err as Error).message }, 'recorder: a flush tick failed; the next one tries again'));
  /** Ticks whose flat-line samples are still being written in slices, oldest first. */
  private sampling: number[] = [];

  constructor(private deps: RecorderDeps) {}

  async start(): Promise<void> {
    const { logger, bus, clock } = this.deps;
    this.cfg = this.deps.influx ?? influxSchema.parse({});
    const site = this.deps.site.config.site.id;
    const dir = this.cfg.spool_dir ?? this.deps.spoolDir;
    this.spool = new Spool(dir, this.cfg.spool_max_mb * 1024 * 1024);
    const found = this.spool.open();
    if (found.lines > 0) logger.info({ points: found.lines, bytes: found.bytes, dir }, this.cfg.url ? 'recorder: the spool holds points from an earlier run; replaying them first' : 'recorder: the spool holds points from an earlier run');
    if (this.cfg.url) this.conn = new InfluxConnection({ url: this.cfg.url, database: this.cfg.database, username: this.cfg.username, password: this.cfg.password, timeoutMs: this.cfg.timeout_ms });
    else logger.warn({ dir, max_mb: this.cfg.spool_max_mb }, 'recorder: no influx.url configured; recording to the local spool only (it is replayed once InfluxDB is configured)');
    this.writer = new BatchWriter({ conn: this.conn, spool: this.spool, retention: this.retention(), batchSize: this.cfg.batch_size, logger, timezone: this.deps.site.config.site.timezone, onSpoolChange: (d) => this.spoolChanged(d) });
    if (found.torn > 0) {
      logger.warn({ lines: found.torn }, 'recorder: cut an incomplete last line from the spool (the previous run died mid-write)');
      this.writer.countDropped(found.torn);
    }
    const kinds = new Map<string, string>();
    for (const room of this.deps.site.rooms) for (const d of room.devices) kinds.set(`${room.id}\u0000${d.name}`, d.profile.kind);
    this.rollup = new Rollup(site, kinds, (row) => this.write(row, 'rollup'));

    const guard = <T>(what: string, fn: (e: T) => void) => (e: T) => {
      try {
        fn(e);
      } catch (err) {
        this.reject(what, e, (err as Error).message);
      }
    };
    this.unsubscribe = [
      bus.on('point', guard('point', (u) => this.onPoint(site, u))),
      bus.on('device', guard('device', (d) => this.onDevice(site, d))),
      bus.on('command', guard('command', (c) => this.write(commandRow(site, c), 'command', c))),
      bus.on('check', guard('check', (c) => this.write(readinessRow(site, c), 'check', c))),
      bus.on('verdict', guard('verdict', (v) => this.write(meetingRow(site, v), 'verdict', v))),
      bus.on('alert', guard('alert', (a) => this.write(alertRow(site, a), 'alert', a))),
      bus.on('activity', guard('activity', (a) => this.write(activityRow(site, a), 'activity', a))),
      bus.on('phase', guard('phase', (p) => this.write(phaseRow(site, p), 'phase', p))),
    ];
    this.stopTick = every(clock, this.cfg.flush_interval_ms, () => this.tick());
    this.spoolChanged(0);
    // Database and retention policies are created now, but start() does not wait on a
    // slow or absent InfluxDB: writes wait for them, and the spool holds points meanwhile.
    void this.writer.prepare().then(() => this.writer?.tick());
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    this.stopTick?.();
    this.stopTick = undefined;
    this.slices.drain();
    this.rollup?.flush(this.deps.clock.now());
    await this.writer?.stop();
    this.spool?.close();
    this.conn?.close();
  }

  /** Sends (or spools) everything queued now. */
  async flush(): Promise<void> {
    this.slices.drain();
    await this.writer?.flush();
  }

  stats(): RecorderStats {
    const w: WriterTruth = this.writer?.truth() ?? {
      mode: 'spool-only', queued: 0, written: 0, spooled: 0, spoolBytes: 0, dropped: 0, rejected: 0,
      refusals: [], droppedBy: { spool_full: 0, spool_write_failed: 0, torn_spool_line: 0, damaged_spool_line: 0 }, lastRefusedAt: 0, lastDroppedAt: 0,
    };
    return { ...w, invalid: this.invalid };
  }

  private retention(): RetentionSpec[] {
    return [
      { name: RP.long, days: this.cfg.retention.long_days, isDefault: true },
      { name: RP.raw, days: this.cfg.retention.raw_days, isDefault: false },
    ];
  }

  private tick(): void {
    const now = this.deps.clock.now();
    // Counted from now, not from when its slice begins: a tick may wait behind another.
    this.sampling.push(now);
    this.slices.run(this.tickJob(now, this.rollup!.tick(now)));
  }

  /**
   * One flush tick, as a job for slices.ts (it yields each step's cost): the flat-line
   * samples, the 5-minute windows that ended, then the writer's flush. A point that
   * changes while its tick is still being sliced is checked for that tick first
   * (sampleBefore), so the rows are exactly those of a tick done in one go.
   */
  private *tickJob(now: number, closeWindows: Generator<number, void>): Generator<number, void> {
    try {
      // Costs are yielded every 32 points: a generator's resume costs about what a check does.
      let cost = 0;
      let n = 0;
      for (const room of this.points.values())
        for (const p of room.values()) {
          if (p.checkedAt < now) {
            p.checkedAt = now;
            cost += this.sample(p, now) ? 20 : 1;
          } else cost += 1;
          if (++n % 32 === 0) {
            yield cost;
            cost = 0;
          }
        }
      yield cost;
    } finally {
      this.sampling.shift();
    }
    yield* closeWindows;
    this.writer!.tick();
  }

  /** Flat lines: a point unchanged for sample_every_s gets a sample so graphs still draw it. */
  private sample(p: PointEntry, now: number): boolean {
    if (p.u.quality !== 'good' || p.u.value === null || now - p.lastWrite < this.cfg.sample_every_s * 1000) return false;
    p.lastWrite = now;
    this.writeTelemetry(p.series, p.u, true, now);
    return true;
  }

  /** A point about to change while ticks are still being sliced: their check of it first. */
  private sampleBefore(p: PointEntry): void {
    for (const at of this.sampling)
      if (p.checkedAt < at) {
        p.checkedAt = at;
        this.sample(p, at);
      }
  }

  private onPoint(site: string, u: PointUpdate): void {
    let room = this.points.get(u.room);
    if (!room) this.points.set(u.room, (room = new Map()));
    let p = room.get(u.point);
    if (p && this.sampling.length > 0) this.sampleBefore(p);
    if (!p || p.u.device !== u.device) {
      // The series (tags) is escaped and validated once per point, not per change.
      const series = this.encoder.seriesOf(telemetryRow(site, u, false));
      if (series.error) return this.reject('point', u, series.error);
      // Ticks still being sliced began before this point was known: not theirs to sample.
      room.set(u.point, (p = { u, lastWrite: u.ts, checkedAt: this.sampling.at(-1) ?? 0, series, slot: this.rollup!.slot(u) }));
    }
    if (this.writeTelemetry(p.series, u, false, u.ts)) {
      p.u = u;
      p.lastWrite = u.ts;
      this.rollup!.update(u, p.slot);
    }
  }

  private writeTelemetry(series: Series, u: PointUpdate, sample: boolean, ts: number): boolean {
    const fields = telemetryFields(u, sample);
    const encoded = typeof fields === 'string' ? this.encoder.line(series, fields, ts) : { ok: false as const, reason: fields.reason };
    if (!encoded.ok) {
      this.reject(sample ? 'sample' : 'point', u, encoded.reason);
      return false;
    }
    this.writer!.add(RP.raw, encoded.line, ts);
    return true;
  }

  /** Every change of online/errors is written; latency-only reports at most once per sample period (with the max seen). */
  private onDevice(site: string, d: DeviceHealth): void {
    const key = `${d.room}\u0000${d.device}`;
    const known = this.devices.get(key);
    const changed = !known || known.online !== d.online || known.errors !== d.errors;
    const latency = typeof d.latencyMs === 'number' ? d.latencyMs : undefined;
    if (!changed && d.ts - known!.lastWrite < this.cfg.sample_every_s * 1000) {
      if (latency !== undefined) known!.latencyMax = Math.max(known!.latencyMax ?? latency, latency);
      return;
    }
    const max = latency === undefined ? known?.latencyMax : Math.max(known?.latencyMax ?? latency, latency);
    this.devices.set(key, { online: d.online, errors: d.errors, lastWrite: d.ts });
    this.write(deviceRow(site, d, max), 'device', d);
  }

  private write(row: RoutedRow, what: string, event?: unknown): void {
    const encoded = this.encoder.encode(row);
    if (!encoded.ok) return this.reject(what, event ?? row.tags, encoded.reason);
    this.writer!.add(row.rp, encoded.line, row.ts);
  }

  /** A bad event is counted and logged with where and why — never its content (it may hold what P15 forbids). */
  private reject(what: string, event: unknown, reason: string): void {
    this.invalid++;
    const now = Date.now();
    if (now - this.lastInvalidLog < 1000) return;
    this.lastInvalidLog = now;
    const room = (event as { room?: unknown } | undefined)?.room;
    this.deps.logger.warn({ event: what, room: typeof room === 'string' ? room.slice(0, 64) : undefined, reason, invalid: this.invalid }, 'recorder: skipped an event that cannot be recorded');
  }

  private spoolChanged(dropped: number): void {
    const spool = this.spool!;
    const share = spool.bytes / spool.limit;
    const { logger, bus, clock } = this.deps;
    const alert = (check: string, state: 'raised' | 'cleared', severity: 'warning' | 'critical', message: string) =>
      bus.emit('alert', { id: `/${check}/-`, room: '', check, state, severity, message, ts: clock.now() });
    if (dropped > 0) {
      const now = Date.now();
      if (now - this.lastDropLog >= 10_000) {
        this.lastDropLog = now;
        logger.error({ dropped_total: this.writer?.stats().dropped, bound_mb: this.cfg.spool_max_mb }, 'recorder: spool full; points dropped (counted exactly in stats().dropped)');
      }
      if (!this.alerts.full) {
        this.alerts.full = true;
        alert('recorder_spool_full', 'raised', 'critical', `recorder spool full (${this.cfg.spool_max_mb} MB): points are being dropped`);
      }
    }
    if (share >= NEAR_FULL && !this.alerts.near) {
      this.alerts.near = true;
      logger.warn({ bytes: spool.bytes, bound_mb: this.cfg.spool_max_mb }, 'recorder: spool nearly full');
      alert('recorder_spool', 'raised', 'warning', `recorder spool at ${Math.round(share * 100)}% of ${this.cfg.spool_max_mb} MB`);
    }
    if (share < CLEAR_BELOW && (this.alerts.full || this.alerts.near)) {
      const was = this.alerts;
      this.alerts = { near: false, full: false };
      if (was.full) alert('recorder_spool_full', 'cleared', 'critical', 'recorder spool below its bound again');
      if (was.near) alert('recorder_spool', 'cleared', 'warning', 'recorder spool drained');
    }
  }
}
