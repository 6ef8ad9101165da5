import type { LineGroup } from './spool.ts';
import type { Refusals } from './refusals.ts';

/**
 * The lines waiting for the next batch, kept the way they will be sent: every
 * PIECE_LINES lines of a retention policy are UTF-8 encoded at once into a piece of the
 * request body, and the strings are let go. So no add() ever encodes a whole batch (a
 * batch may be 100,000 lines), a batch's body is ready when it is due, and the lines
 * die young (bench:influx: keeping every line of a batch alive until its answer cost
 * a sixth of the recorder's CPU in garbage collection). The lines themselves are
 * needed only when something went wrong — a line refused, a batch to spool — and are
 * then read back from the body (a line never holds a newline: the encoder sees to it).
 *
 * The oldest timestamp queued says whether any line can be older than its retention
 * policy, so a batch of recent lines is never looked at line by line (refusals.ts).
 */

/** One retention policy's part of a batch: the body as sent and how many lines it holds. */
export interface BatchGroup {
  rp: string;
  count: number;
  body: Buffer[];
  /** The lines, once asked for (linesOf). */
  lines?: string[];
}

export interface Batch {
  groups: BatchGroup[];
  /** Lines in the batch, damaged ones included. */
  count: number;
  /** Spool lines with no known retention policy: never sent, dropped. */
  damaged: number;
}

/** Lines encoded at a time: about 0.2 ms of work. */
export const PIECE_LINES = 1000;

/** A group's lines (decoded from its body the first time). */
export function linesOf(g: BatchGroup): string[] {
  if (!g.lines) {
    const lines = Buffer.concat(g.body).toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    g.lines = lines;
  }
  return g.lines;
}

/** A group of lines at hand (a spool chunk, part of a batch), encoded as one body. */
export function groupOf(rp: string, lines: string[]): BatchGroup {
  return { rp, count: lines.length, body: [Buffer.from(lines.join('\n'))], lines };
}

/** The queued lines of one retention policy: the encoded pieces, then the lines not yet in one. */
export interface Pending {
  rp: string;
  pieces: Buffer[];
  encodedCount: number;
  lines: string[];
}

export class BatchBuilder {
  /** Per retention policy, in order of first use (two of them: a list is faster than a map). */
  private pending: Pending[] = [];
  private last?: Pending;
  private count = 0;
  /** The oldest timestamp (epoch ms) among the queued lines. */
  private oldest = Number.POSITIVE_INFINITY;

  constructor(private refusals: Refusals) {}

  /** Lines queued. */
  get queued(): number {
    return this.count;
  }

  /** Queues a line of `rp` with timestamp `ms` (epoch ms); returns its policy's pending lines. */
  add(rp: string, line: string, ms: number): Pending {
    let p = this.last;
    if (p === undefined || p.rp !== rp) p = this.last = this.pendingOf(rp);
    p.lines.push(line);
    if (ms < this.oldest) this.oldest = ms;
    this.count++;
    return p;
  }

  /** Encodes the lines of `p` not yet in a piece (and lets the strings go). */
  encode(p: Pending): void {
    if (p.lines.length === 0) return;
    p.pieces.push(Buffer.from(`${p.lines.join('\n')}\n`));
    p.encodedCount += p.lines.length;
    p.lines.length = 0;
  }

  /**
   * Everything queued as one batch, each policy's body made of its pieces and the rest;
   * the lines older than their policy (only looked for when the oldest queued line
   * could be) in a request of their own (see refusals.ts).
   */
  seal(now = Date.now()): Batch {
    const groups: BatchGroup[] = [];
    for (const p of this.pending) {
      const count = p.encodedCount + p.lines.length;
      if (count === 0) continue;
      if (!this.refusals.mayBeTooOld(p.rp, this.oldest, now)) {
        this.encode(p);
        groups.push({ rp: p.rp, count, body: p.pieces });
        continue;
      }
      for (const part of this.refusals.split(p.rp, this.linesOfPending(p), now)) if (part.length > 0) groups.push(groupOf(p.rp, part));
    }
    const batch: Batch = { groups, count: this.count, damaged: 0 };
    this.clear();
    return batch;
  }

  /** Everything queued, as lines (for the spool); the queue is empty afterwards. */
  take(): LineGroup[] {
    const taken: LineGroup[] = [];
    for (const p of this.pending) if (p.encodedCount + p.lines.length > 0) taken.push({ rp: p.rp, lines: this.linesOfPending(p) });
    this.clear();
    return taken;
  }

  private linesOfPending(p: Pending): string[] {
    if (p.pieces.length === 0) return p.lines;
    return [...linesOf({ rp: p.rp, count: p.encodedCount, body: p.pieces }), ...p.lines];
  }

  private pendingOf(rp: string): Pending {
    for (const p of this.pending) if (p.rp === rp) return p;
    const p: Pending = { rp, pieces: [], encodedCount: 0, lines: [] };
    this.pending.push(p);
    return p;
  }

  private clear(): void {
    this.pending = [];
    this.last = undefined;
    this.count = 0;
    this.oldest = Number.POSITIVE_INFINITY;
  }
}
