import { ErrorCode, isRoomctlError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { InfluxConnection, RetentionSpec } from '../adapters/influx.ts';
import type { LineGroup, Spool } from './spool.ts';
import { Refusals, type DropCause, type Refused, type RefusalStats } from './refusals.ts';
import { BatchBuilder, groupOf, linesOf, PIECE_LINES, type Batch, type BatchGroup } from './batch.ts';

/**
 * Batches encoded lines to InfluxDB and never loses one it accepted:
 *
 *  live      spool empty: a batch goes out at `batchSize` lines or on the flush tick,
 *            one request in flight at a time (so batches arrive in order).
 *  spooling  InfluxDB is away (network error, 5xx, auth, database gone) or the spool
 *            still holds points: every flush appends to the spool, and the spool is
 *            replayed oldest first, retrying with backoff, until it is empty.
 *  spool-only no influx.url: the spool is where everything stays.
 *
 * A line InfluxDB refuses (400: malformed, type conflict, outside retention) is not
 * retried: the adapter reports exactly which and how many; refusals.ts counts them by
 * cause and logs each cause once. Lines older than their retention policy go in a
 * request of their own, so influxd (which names one cause per request) counts them.
 * How the queue is kept (encoded a piece at a time as it fills): batch.ts.
 */
export type WriterMode = 'live' | 'spooling' | 'spool-only';

export interface WriterStats {
  mode: WriterMode;
  /** Lines in memory (queued or in flight). */
  queued: number;
  /** Lines InfluxDB has acknowledged. */
  written: number;
  /** Lines waiting in the spool now. */
  spooled: number;
  spoolBytes: number;
  /** Lines lost past the spool bound (or refused by the disk), exactly. */
  dropped: number;
  /** Lines InfluxDB refused for good (each cause logged once). */
  rejected: number;
}

export interface WriterTruth extends WriterStats, RefusalStats {}

export interface WriterOptions {
  conn?: InfluxConnection;
  spool: Spool;
  retention: RetentionSpec[];
  batchSize: number;
  logger: Logger;
  /** The site's time zone, for the dates a refusal's explanation names (default UTC). */
  timezone?: string;
  /** After every spool change: lets the recorder warn and alert as it nears the bound. */
  onSpoolChange?: (dropped: number) => void;
}

interface Sent {
  /** Lines not written, to retry. */
  failed: BatchGroup[];
  failedCount: number;
  written: number;
  refused: Refused[];
}

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;

export class BatchWriter {
  private queue: BatchBuilder;
  /** Full batches already serialised, waiting for the request in flight. */
  private sealed: Batch[] = [];
  private inFlight = 0;
  private flushDue = false;
  private mode: WriterMode;
  private schemaReady = false;
  private pumping?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private retryMs = RETRY_MIN_MS;
  private retryAt = 0;
  private stopped = false;
  private pumpScheduled = false;
  private counts = { written: 0, dropped: 0, rejected: 0 };
  private refusals: Refusals;
  private schemaWarned = false;
  private refusedWarned = false;
  private validRp: Set<string>;

  constructor(private o: WriterOptions) {
    this.mode = !o.conn ? 'spool-only' : o.spool.lines > 0 ? 'spooling' : 'live';
    this.validRp = new Set(o.retention.map((r) => r.name));
    this.refusals = new Refusals(o.logger, o.retention, o.timezone);
    this.queue = new BatchBuilder(this.refusals);
  }

  stats(): WriterStats {
    let sealed = 0;
    for (const b of this.sealed) sealed += b.count;
    return { mode: this.mode, queued: this.queue.queued + sealed + this.inFlight, ...this.counts, spooled: this.o.spool.lines, spoolBytes: this.o.spool.bytes };
  }

  /** stats() with what was refused and dropped, by cause (for /healthz and /metrics). */
  truth(): WriterTruth {
    return { ...this.stats(), ...this.refusals.stats() };
  }

  /** Lines lost before they reached the writer (a torn spool tail). */
  countDropped(n: number, cause: DropCause = 'torn_spool_line'): void {
    this.counts.dropped += n;
    this.refusals.drop(cause, n);
  }

  /** Creates the database and retention policies; false (and logged) when InfluxDB is not there yet. */
  async prepare(): Promise<boolean> {
    if (!this.o.conn || this.schemaReady) return this.schemaReady;
    try {
      await this.o.conn.ensureSchema(this.o.retention);
      this.schemaReady = true;
    } catch (err) {
      if (isRoomctlError(err, ErrorCode.InfluxQueryFailed)) {
        // InfluxDB answered but refused (a non-admin user; the v1 API of InfluxDB 2.x/3.x,
        // where buckets and DBRP mappings are made by an administrator): write anyway.
        if (!this.refusedWarned) this.o.logger.warn({ err: (err as Error).message, retention_policies: [...this.validRp] }, 'recorder: InfluxDB refused to create the database/retention policies; assuming they exist');
        this.refusedWarned = true;
        this.schemaReady = true;
        return true;
      }
      // Said once per outage, not on every retry.
      if (!this.schemaWarned) this.o.logger.warn({ err: (err as Error).message }, 'recorder: cannot create the InfluxDB database/retention policies yet; spooling until InfluxDB answers');
      this.schemaWarned = true;
    }
    if (this.schemaReady) this.schemaWarned = false;
    return this.schemaReady;
  }

  /** Queues one line of retention policy `rp`; `ms`: its timestamp (epoch ms). */
  add(rp: string, line: string, ms: number): void {
    const p = this.queue.add(rp, line, ms);
    if (this.mode !== 'live') {
      // Straight on to the spool, a piece at a time.
      if (p.lines.length >= PIECE_LINES || this.queue.queued >= this.o.batchSize) this.spoolQueue();
      return;
    }
    if (p.lines.length >= PIECE_LINES) this.queue.encode(p);
    if (this.queue.queued >= this.o.batchSize) {
      // Seal the full batch now, while the previous request is still in flight,
      // so the next request goes out the moment that one is answered.
      this.sealed.push(this.queue.seal());
      this.pumpSoon();
    }
  }

  /** The flush tick: send (or spool) whatever is queued. */
  tick(): void {
    if (this.stopped) return;
    this.flushDue = true;
    if (this.mode !== 'live') this.spoolQueue();
    this.pumpSoon();
  }

  /** Resolves once everything queued now has been written or spooled. */
  async flush(): Promise<void> {
    for (let guard = 0; guard < 1_000_000; guard++) {
      this.flushDue = true;
      if (this.mode !== 'live') this.spoolQueue();
      await this.pump();
      if ((this.queue.queued === 0 && this.sealed.length === 0) || this.mode !== 'live') break;
    }
    if (this.mode !== 'live') this.spoolQueue();
  }

  async stop(): Promise<void> {
    await this.flush();
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    while (this.pumping) await this.pumping;
    // Each cause was logged once, when first seen: the run's totals close the story.
    if (this.counts.rejected > 0) this.o.logger.warn({ refused: this.refusals.summary(), written: this.counts.written }, `recorder: InfluxDB refused ${this.counts.rejected} points in this run`);
  }

  /**
   * pump() in a turn of its own: the add() that sealed a batch (inside some MQTT
   * message's emit) or the tick's last slice does not also write the request body
   * (hundreds of KB into the socket) before it returns.
   */
  private pumpSoon(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  private pump(): Promise<void> {
    if (!this.pumping) this.pumping = this.loop().finally(() => (this.pumping = undefined));
    return this.pumping;
  }

  private async loop(): Promise<void> {
    try {
      await this.work();
    } catch (err) {
      // Never an unhandled rejection: log, keep what is spooled, try again later.
      this.o.logger.error({ err: (err as Error).message }, 'recorder: writing to InfluxDB failed unexpectedly');
      this.inFlight = 0;
      this.retryLater();
    }
  }

  private async work(): Promise<void> {
    if (!this.o.conn) return;
    for (;;) {
      if (this.mode === 'spooling') {
        if (this.stopped || Date.now() < this.retryAt) return;
        if (!(await this.prepare())) return this.retryLater();
        const chunk = await this.o.spool.read(this.o.batchSize);
        if (this.stopped && !chunk) return;
        if (!chunk) {
          this.mode = 'live';
          this.o.logger.info('recorder: spool replayed; writing to InfluxDB directly again');
          this.o.onSpoolChange?.(0);
          continue;
        }
        const batch = this.batchOf(chunk.groups, chunk.count);
        const sent = await this.send(batch);
        // Not committed: the whole chunk is sent again, so its refusals are counted then, once.
        if (sent.failedCount > 0) return this.retryLater();
        this.settle(batch, sent);
        chunk.commit();
        this.retryMs = RETRY_MIN_MS;
        this.o.onSpoolChange?.(0);
        continue;
      }
      let batch = this.sealed.shift();
      if (!batch && this.queue.queued > 0 && (this.flushDue || this.queue.queued >= this.o.batchSize)) batch = this.queue.seal();
      if (!batch) return;
      if (this.queue.queued === 0 && this.sealed.length === 0) this.flushDue = false;
      this.inFlight = batch.count;
      const sent: Sent = this.schemaReady || (await this.prepare()) ? await this.send(batch) : this.unsent(batch);
      this.inFlight = 0;
      // What was written or refused stays so; only `failed` goes to the spool.
      this.settle(batch, sent);
      if (sent.failedCount > 0) {
        // From here the spool is the ordered log: the failed batch first, then what queued meanwhile.
        this.mode = 'spooling';
        this.appendToSpool(sent.failed);
        this.spoolQueue();
        this.o.logger.warn({ points: sent.failedCount }, 'recorder: InfluxDB unavailable; spooling to disk until it returns');
        return this.retryLater();
      }
    }
  }

  /** A chunk of the spool as a batch; lines of a retention policy roomctl does not know are dropped (counted once the chunk is done). */
  private batchOf(chunk: LineGroup[], count: number): Batch {
    const groups: BatchGroup[] = [];
    let damaged = 0;
    const now = Date.now();
    for (const { rp, lines } of chunk) {
      if (!this.validRp.has(rp)) {
        // Not InfluxDB's refusal: a spool line roomctl cannot route.
        if (damaged === 0) this.o.logger.error({ rp: rp.slice(0, 64), line: lines[0]!.slice(0, 300) }, 'recorder: dropped a spool line with an unknown retention policy (a damaged spool file?)');
        damaged += lines.length;
        continue;
      }
      for (const part of this.refusals.split(rp, lines, now)) if (part.length > 0) groups.push(groupOf(rp, part));
    }
    return { groups, count, damaged };
  }

  private unsent(batch: Batch): Sent {
    let failedCount = 0;
    for (const g of batch.groups) failedCount += g.count;
    return { failed: batch.groups, failedCount, written: 0, refused: [] };
  }

  /** Sends a batch: what was written, what InfluxDB refused, and the lines to retry. */
  private async send(batch: Batch): Promise<Sent> {
    const sent: Sent = { failed: [], failedCount: 0, written: 0, refused: [] };
    for (const group of batch.groups) {
      if (sent.failedCount > 0) {
        sent.failed.push(group);
        sent.failedCount += group.count;
        continue;
      }
      const outcome = await this.o.conn!.writeBody(group.rp, { count: group.count, body: group.body, lines: () => linesOf(group) });
      if (!outcome.ok) {
        if (outcome.schemaMissing) this.schemaReady = false;
        this.o.logger.debug({ reason: outcome.reason }, 'recorder: write failed');
        sent.failed.push(group);
        sent.failedCount += group.count;
        continue;
      }
      sent.written += outcome.written;
      for (const rejection of outcome.rejected) sent.refused.push({ rp: group.rp, rejection, lines: linesOf(group) });
    }
    return sent;
  }

  /** Counts a sent batch: written, refused (by cause, logged once per cause), damaged lines dropped. */
  private settle(batch: Batch, sent: Sent): void {
    this.counts.written += sent.written;
    for (const r of sent.refused) this.counts.rejected += r.rejection.count;
    this.refusals.batch(sent.refused, { lines: batch.count - sent.failedCount - batch.damaged, written: sent.written });
    if (batch.damaged) this.countDropped(batch.damaged, 'damaged_spool_line');
  }

  private spoolQueue(): void {
    for (const batch of this.sealed.splice(0)) this.appendToSpool(batch.groups);
    if (this.queue.queued > 0) this.appendToSpool(this.queue.take());
    this.flushDue = false;
  }

  /** Appends lines to the spool (a batch's groups are read back from their bodies). */
  private appendToSpool(groups: readonly (BatchGroup | LineGroup)[]): void {
    const r = this.o.spool.append(groups.map((g) => ('body' in g ? { rp: g.rp, lines: linesOf(g) } : g)));
    if (r.dropped > 0) {
      this.countDropped(r.dropped, r.error ? 'spool_write_failed' : 'spool_full');
      if (r.error) this.o.logger.error({ err: r.error, points: r.dropped }, 'recorder: the spool could not be written; points dropped');
    }
    this.o.onSpoolChange?.(r.dropped);
  }

  private retryLater(): void {
    this.retryAt = Date.now() + this.retryMs;
    if (!this.retryTimer && !this.stopped) {
      // Real time, not the injected clock: this waits for a real server to come back.
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.pump();
      }, this.retryMs);
      this.retryTimer.unref();
    }
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }
}
