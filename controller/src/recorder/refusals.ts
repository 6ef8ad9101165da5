import type { Logger } from '../log.ts';
import type { LineRejection, RetentionSpec } from '../adapters/influx.ts';
import { localDate } from '../model/local-time.ts';

/**
 * What became of the points InfluxDB did not keep, so that /healthz and /metrics can
 * tell the truth: points InfluxDB *refused* (by cause) and points roomctl *dropped* (by
 * cause), each counted exactly and logged once per cause with what to do about it.
 *
 * How influxd 1.6 refuses (observed with the influxd the tests run): a 400 whose JSON
 * body says `partial write: points beyond retention policy dropped=N` or
 * `partial write: field type conflict: input field "f" on measurement "m" is type
 * string, already exists as type float dropped=N`; every other line of the request is
 * written — even when all of them were refused, it is still a "partial write". It
 * names only ONE cause per request: a request holding lines beyond the retention
 * policy and a type conflict reports the conflict alone, and the old lines are lost
 * uncounted. So the writer sends the lines older than their retention policy in a
 * request of their own (split()), and that cause, the one a wrong clock or a
 * simulated day long past produces by the thousand, is always counted exactly.
 */
export type RefusalCause = 'retention' | 'type_conflict' | 'unparsable' | 'other';
export type DropCause = 'spool_full' | 'spool_write_failed' | 'torn_spool_line' | 'damaged_spool_line';

export interface RefusalCount {
  cause: RefusalCause;
  /** The retention policy the points were sent to. */
  rp: string;
  points: number;
  /** What it means and what to do (the text of its one log line). */
  explanation: string;
  /** Real time (epoch ms) of the latest refusal of this cause. */
  lastAt: number;
}

export interface RefusalStats {
  refusals: RefusalCount[];
  droppedBy: Record<DropCause, number>;
  /** Real time of the latest refusal / drop, 0 if none. */
  lastRefusedAt: number;
  lastDroppedAt: number;
}

/** One request's refusal, with the lines of that request (for the explanation). */
export interface Refused {
  rp: string;
  rejection: LineRejection;
  lines: readonly string[];
}

const DAY_MS = 86_400_000;
const CONFLICT = /field type conflict: input field "([^"]*)" on measurement "([^"]*)" is type (\w+), already exists as type (\w+)/;

/**
 * Epoch ms of a line's timestamp (nanoseconds, the last field), or NaN. Runs on every
 * line of every batch (split()), so it reads the digits in place: slicing the field
 * and matching a regular expression took most of the recorder's CPU in bench:influx.
 */
export function lineTimeMs(line: string): number {
  const start = line.lastIndexOf(' ') + 1;
  const end = line.length;
  if (end - start < 7) return Number.NaN;
  let ms = 0;
  for (let i = start; i < end; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    // The last six digits are the nanoseconds within the millisecond.
    if (i < end - 6) ms = ms * 10 + d;
  }
  return ms;
}

export class Refusals {
  private counts = new Map<string, RefusalCount>();
  private dropped: Record<DropCause, number> = { spool_full: 0, spool_write_failed: 0, torn_spool_line: 0, damaged_spool_line: 0 };
  private lastRefusedAt = 0;
  private lastDroppedAt = 0;
  private days: Map<string, number>;

  constructor(
    private logger: Logger,
    retention: readonly RetentionSpec[],
    private timezone = 'UTC',
  ) {
    this.days = new Map(retention.map((r) => [r.name, r.days]));
  }

  /** Whether a line as old as `oldest` (epoch ms) may be older than the retention policy `rp`. */
  mayBeTooOld(rp: string, oldest: number, now = Date.now()): boolean {
    const days = this.days.get(rp);
    return days !== undefined && days > 0 && oldest < now - days * DAY_MS;
  }

  /** Lines of one retention policy: [inside it, older than it] by InfluxDB's (real) clock. */
  split(rp: string, lines: string[], now = Date.now()): [string[], string[]] {
    const days = this.days.get(rp);
    if (!days) return [lines, []];
    const cutoff = now - days * DAY_MS;
    let old: string[] | undefined;
    let inside: string[] | undefined;
    for (let i = 0; i < lines.length; i++) {
      const isOld = lineTimeMs(lines[i]!) < cutoff;
      if (isOld && !old) {
        // The common case (nothing old) costs no copy.
        old = [];
        inside = lines.slice(0, i);
      }
      if (isOld) old!.push(lines[i]!);
      else inside?.push(lines[i]!);
    }
    return old ? [inside!, old] : [lines, []];
  }

  /**
   * One batch's refusals, once the batch is done: counted, and each cause seen for the
   * first time logged with the batch's truth (written, or not).
   */
  batch(refused: readonly Refused[], outcome: { lines: number; written: number }): void {
    if (refused.length === 0) return;
    const now = Date.now();
    this.lastRefusedAt = now;
    let total = 0;
    for (const r of refused) total += r.rejection.count;
    const fresh = new Map<string, { r: Refused; c: RefusalCount; n: number }>();
    for (const r of refused) {
      const { cause, key, explanation } = this.classify(r);
      let c = this.counts.get(key);
      if (!c) this.counts.set(key, (c = { cause, rp: r.rp, points: 0, explanation, lastAt: now }));
      if (c.points === 0 || fresh.has(key)) {
        const f = fresh.get(key) ?? { r, c, n: 0 };
        f.n += r.rejection.count;
        fresh.set(key, f);
      }
      c.points += r.rejection.count;
      c.lastAt = now;
    }
    for (const [key, { r, c, n }] of fresh)
      this.logger.warn(
        { cause: c.cause, rp: r.rp, points: n, why: c.explanation, reason: r.rejection.reason.slice(0, 300), line: r.rejection.line?.slice(0, 300), refused_total: this.total(), key, note: 'logged once per cause: /healthz (influx.refused) and /metrics (roomctl_recorder_refused_points_total) count every one' },
        `recorder: InfluxDB refused ${n === 1 ? 'a point' : `${n.toLocaleString('en-US')} points`}${restOfBatch(n, total, outcome)}`,
      );
  }

  /** Points roomctl itself lost (they never reached InfluxDB). */
  drop(cause: DropCause, n: number): void {
    if (n <= 0) return;
    this.dropped[cause] += n;
    this.lastDroppedAt = Date.now();
  }

  /** Every refusal of this run, by cause (logged when the recorder stops). */
  summary(): Record<string, number> {
    return Object.fromEntries([...this.counts].map(([key, c]) => [key, c.points]));
  }

  stats(): RefusalStats {
    return { refusals: [...this.counts.values()].map((c) => ({ ...c })), droppedBy: { ...this.dropped }, lastRefusedAt: this.lastRefusedAt, lastDroppedAt: this.lastDroppedAt };
  }

  private total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c.points;
    return n;
  }

  private classify({ rp, rejection, lines }: Refused): { cause: RefusalCause; key: string; explanation: string } {
    const reason = rejection.reason;
    if (/beyond retention policy/.test(reason)) {
      const days = this.days.get(rp);
      let oldest = Number.POSITIVE_INFINITY;
      for (const l of lines) {
        const t = lineTimeMs(l);
        if (t < oldest) oldest = t;
      }
      const when = Number.isFinite(oldest) ? `; the oldest is from ${localDate(oldest, this.timezone)} (${this.timezone}), ${Math.floor((Date.now() - oldest) / DAY_MS)} days ago` : '';
      return {
        cause: 'retention',
        key: `retention:${rp}`,
        explanation:
          `points older than the retention policy "${rp}"${days ? ` (${days} d)` : ''}${when}. InfluxDB keeps nothing older, so they are lost: ` +
          `a clock set in the past, or a simulated day long gone (roomctl start --simulate --day, sim run --day) — play a recent day (the demo plays today by default), fix the clock, or raise influx.retention.${rp}_days`,
      };
    }
    const conflict = CONFLICT.exec(reason);
    if (conflict) {
      const [, field, measurement, sent, kept] = conflict;
      return {
        cause: 'type_conflict',
        key: `type_conflict:${measurement}.${field}`,
        explanation: `field "${field}" of measurement "${measurement}" is ${kept} in InfluxDB and these points send it as ${sent}: a point changed its type (a profile edited from number to enum, or the reverse); InfluxDB keeps a field's first type per shard, so these points are lost until the shard rolls over — give the point a new name or drop the old series`,
      };
    }
    if (/unable to parse/.test(reason))
      return { cause: 'unparsable', key: 'unparsable', explanation: 'lines InfluxDB cannot parse: roomctl validates every line it makes, so this is a bug — please report it with the line' };
    return { cause: 'other', key: `other:${reason.replace(/dropped=\d+/, '').slice(0, 80)}`, explanation: `InfluxDB said: ${reason.slice(0, 200)}` };
  }
}

/**
 * What became of the rest of the batch, truthfully: `n` points of this cause, `total`
 * refused in the batch, of `lines` sent. Never "the rest was written" unless it was.
 */
function restOfBatch(n: number, total: number, outcome: { lines: number; written: number }): string {
  const more = total > n ? `${(total - n).toLocaleString('en-US')} more for another cause` : '';
  const others = outcome.lines - total;
  if (others === 0) return more ? ` — and ${more}: none of its batch was written` : ' — every point of its batch';
  if (outcome.written === others) return more ? `; ${more}; the rest of its batch was written` : '; the rest of its batch was written';
  return `;${more ? ` ${more};` : ''} ${outcome.written} of the other ${others} were written, the rest are retried`;
}
