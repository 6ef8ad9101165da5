import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, statSync, ftruncateSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The on-disk spool: where points wait while InfluxDB is away. Append-only segment
 * files `spool-<n>.lp`, one point per line as `<retention policy> <line protocol>`,
 * read back oldest first. A segment is deleted once every line in it has been
 * written; a crash mid-replay only means that segment is sent again, which InfluxDB
 * takes as overwrites (same series and timestamp), not duplicates.
 *
 * Durability: appends are plain write(2) calls, so a killed process loses nothing
 * it appended; fsync runs at most `fsyncMs` after the first unsynced append (a
 * power cut loses at most that).
 */
export interface SpoolEntry {
  rp: string;
  line: string;
}

export interface SpoolChunk {
  entries: SpoolEntry[];
  /** Marks these entries written: they will not be read again. */
  commit(): void;
}

interface Segment {
  n: number;
  path: string;
  size: number;
  lines: number;
}

const SEGMENT_BYTES = 8 * 1024 * 1024;
const READ_BYTES = 4 * 1024 * 1024;
const NAME = /^spool-(\d{10})\.lp$/;

export class Spool {
  private segments: Segment[] = [];
  /** Bytes of the head segment already replayed. */
  private headOffset = 0;
  private headLinesDone = 0;
  private fd?: number;
  private dirty = false;
  private fsyncTimer?: NodeJS.Timeout;

  constructor(
    readonly dir: string,
    private maxBytes: number,
    private fsyncMs = 1000,
  ) {}

  /** Opens the directory and takes over what an earlier run left. Returns torn (incomplete) lines removed. */
  open(): { lines: number; bytes: number; torn: number } {
    mkdirSync(this.dir, { recursive: true });
    let torn = 0;
    const names = readdirSync(this.dir).filter((f) => NAME.test(f)).sort();
    for (const name of names) {
      const path = join(this.dir, name);
      const { size, lines, tail } = scan(path);
      if (tail > 0) {
        // The last append of a process that died mid-write: cut it, count it.
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, size - tail);
        fsyncSync(fd);
        closeSync(fd);
        torn++;
      }
      if (size - tail === 0) unlinkSync(path);
      else this.segments.push({ n: Number(NAME.exec(name)![1]), path, size: size - tail, lines });
    }
    return { lines: this.lines, bytes: this.bytes, torn };
  }

  get bytes(): number {
    let b = 0;
    for (const s of this.segments) b += s.size;
    return b;
  }

  /** Points waiting in the spool. */
  get lines(): number {
    let n = 0;
    for (const s of this.segments) n += s.lines;
    return n - this.headLinesDone;
  }

  get limit(): number {
    return this.maxBytes;
  }

  /**
   * Appends in order. What would take the spool past its bound is not written and
   * is counted in `dropped`; so is anything the disk refuses.
   */
  append(entries: readonly SpoolEntry[]): { appended: number; dropped: number; error?: string } {
    let room = this.maxBytes - this.bytes;
    let text = '';
    let appended = 0;
    for (const e of entries) {
      const line = `${e.rp} ${e.line}\n`;
      const size = Buffer.byteLength(line);
      if (size > room) break;
      room -= size;
      text += line;
      appended++;
    }
    if (appended === 0) return { appended: 0, dropped: entries.length };
    try {
      const seg = this.writable();
      const buf = Buffer.from(text);
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd!, buf, off, buf.length - off);
      seg.size += buf.length;
      seg.lines += appended;
      this.scheduleFsync();
    } catch (err) {
      return { appended: 0, dropped: entries.length, error: (err as Error).message };
    }
    return { appended, dropped: entries.length - appended };
  }

  /** Up to `max` of the oldest entries, or undefined when the spool is empty. */
  read(max: number): SpoolChunk | undefined {
    const head = this.segments[0];
    if (!head) return undefined;
    const length = Math.min(READ_BYTES, head.size - this.headOffset);
    if (length <= 0) {
      this.dropHead();
      return this.read(max);
    }
    const buf = Buffer.alloc(length);
    const fd = openSync(head.path, 'r');
    try {
      readSync(fd, buf, 0, length, this.headOffset);
    } finally {
      closeSync(fd);
    }
    const entries: SpoolEntry[] = [];
    let pos = 0;
    while (entries.length < max) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) break;
      const text = buf.toString('utf8', pos, nl);
      pos = nl + 1;
      const space = text.indexOf(' ');
      entries.push(space > 0 ? { rp: text.slice(0, space), line: text.slice(space + 1) } : { rp: '', line: text });
    }
    if (pos === 0) throw new Error(`spool segment ${head.path} holds a line longer than ${READ_BYTES} bytes`);
    const consumed = pos;
    const count = entries.length;
    return {
      entries,
      commit: () => {
        if (this.segments[0] !== head) return;
        this.headOffset += consumed;
        this.headLinesDone += count;
        if (this.headOffset >= head.size) this.dropHead();
      },
    };
  }

  /** fsync now (graceful stop) and release the file. */
  close(): void {
    if (this.fsyncTimer) clearTimeout(this.fsyncTimer);
    this.fsyncTimer = undefined;
    this.syncNow();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private writable(): Segment {
    const last = this.segments.at(-1);
    // A new process never appends to a segment an earlier run left (it may be mid-replay).
    if (last && this.fd !== undefined && last.size < SEGMENT_BYTES) return last;
    if (this.fd !== undefined) {
      this.syncNow();
      closeSync(this.fd);
    }
    const n = (last?.n ?? 0) + 1;
    const seg: Segment = { n, path: join(this.dir, `spool-${String(n).padStart(10, '0')}.lp`), size: 0, lines: 0 };
    this.fd = openSync(seg.path, 'a');
    this.segments.push(seg);
    return seg;
  }

  private dropHead(): void {
    const head = this.segments.shift();
    this.headOffset = 0;
    this.headLinesDone = 0;
    if (!head) return;
    if (this.segments.length === 0 && this.fd !== undefined) {
      if (this.fsyncTimer) clearTimeout(this.fsyncTimer);
      this.fsyncTimer = undefined;
      this.dirty = false;
      closeSync(this.fd);
      this.fd = undefined;
    }
    try {
      unlinkSync(head.path);
    } catch {
      /* already gone */
    }
  }

  private scheduleFsync(): void {
    this.dirty = true;
    if (this.fsyncTimer) return;
    this.fsyncTimer = setTimeout(() => {
      this.fsyncTimer = undefined;
      this.syncNow();
    }, this.fsyncMs);
    this.fsyncTimer.unref();
  }

  private syncNow(): void {
    if (!this.dirty || this.fd === undefined) return;
    this.dirty = false;
    try {
      fsyncSync(this.fd);
    } catch {
      /* reported by the next append */
    }
  }
}

/** Size, complete lines, and the bytes after the last newline (a torn final append). */
function scan(path: string): { size: number; lines: number; tail: number } {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(1024 * 1024);
  let lines = 0;
  let lastNl = -1;
  try {
    for (let pos = 0; pos < size; ) {
      const got = readSync(fd, buf, 0, buf.length, pos);
      if (got <= 0) break;
      for (let i = buf.indexOf(10, 0); i >= 0 && i < got; i = buf.indexOf(10, i + 1)) {
        lines++;
        lastNl = pos + i;
      }
      pos += got;
    }
  } finally {
    closeSync(fd);
  }
  return { size, lines, tail: size - (lastNl + 1) };
}
