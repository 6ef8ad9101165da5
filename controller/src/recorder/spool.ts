import { close, closeSync, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, statSync, ftruncateSync, unlinkSync, writeSync } from 'node:fs';
import { open as openAsync } from 'node:fs/promises';
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
 *
 * The event loop: an append is one write(2) into the page cache, of at most the lines
 * the writer hands it at once. What may wait on the disk — fsync (tens of ms on a busy
 * disk), reading a segment back — runs on libuv's thread pool, off the event loop. A
 * replayed segment is deleted at once (unlink), so the files always match `lines`;
 * open() at start and close() at stop are synchronous.
 */
/** Lines of one retention policy, in order. */
export interface LineGroup {
  rp: string;
  lines: string[];
}

export interface SpoolChunk {
  /** The lines read, grouped by retention policy (order kept within each). */
  groups: LineGroup[];
  /** Lines in `groups`. */
  count: number;
  /** Marks these lines written: they will not be read again. */
  commit(): void;
}

interface Segment {
  n: number;
  path: string;
  size: number;
  lines: number;
}

/** The segment being appended to: fsync and close may overlap on the thread pool. */
interface OpenFile {
  fd: number;
  dirty: boolean;
  syncing: boolean;
  /** No more appends: close once the last fsync is done. */
  retired: boolean;
  closed: boolean;
}

const SEGMENT_BYTES = 8 * 1024 * 1024;
const READ_BYTES = 4 * 1024 * 1024;
/** The least read for a chunk: a segment's average line length guesses the rest. */
const MIN_READ_BYTES = 64 * 1024;
const NAME = /^spool-(\d{10})\.lp$/;

export class Spool {
  private segments: Segment[] = [];
  /** Bytes of the head segment already replayed. */
  private headOffset = 0;
  private headLinesDone = 0;
  private file?: OpenFile;
  private fsyncTimer?: NodeJS.Timeout;
  /** Highest segment number used: a new segment never takes the name of one an earlier run left. */
  private lastN = 0;

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
      const n = Number(NAME.exec(name)![1]);
      this.lastN = Math.max(this.lastN, n);
      if (size - tail === 0) unlinkSync(path);
      else this.segments.push({ n, path, size: size - tail, lines });
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
  append(groups: readonly LineGroup[]): { appended: number; dropped: number; error?: string } {
    let total = 0;
    let text = '';
    for (const g of groups) {
      total += g.lines.length;
      for (const line of g.lines) text += `${g.rp} ${line}\n`;
    }
    if (total === 0) return { appended: 0, dropped: 0 };
    let room = this.maxBytes - this.bytes;
    let appended = total;
    let buf = Buffer.from(text);
    if (buf.length > room) {
      // Past the bound: keep the oldest lines that fit, in order, and count the rest.
      text = '';
      appended = 0;
      fill: for (const g of groups)
        for (const l of g.lines) {
          const line = `${g.rp} ${l}\n`;
          const size = Buffer.byteLength(line);
          if (size > room) break fill;
          room -= size;
          text += line;
          appended++;
        }
      if (appended === 0) return { appended: 0, dropped: total };
      buf = Buffer.from(text);
    }
    try {
      const seg = this.writable();
      for (let off = 0; off < buf.length; ) off += writeSync(this.file!.fd, buf, off, buf.length - off);
      seg.size += buf.length;
      seg.lines += appended;
      this.scheduleFsync();
    } catch (err) {
      return { appended: 0, dropped: total, error: (err as Error).message };
    }
    return { appended, dropped: total - appended };
  }

  /** Up to `max` of the oldest lines, or undefined when the spool is empty. Reads on the thread pool. */
  async read(max: number): Promise<SpoolChunk | undefined> {
    for (;;) {
      const head = this.segments[0];
      if (!head) return undefined;
      const left = head.size - this.headOffset;
      if (left <= 0) {
        this.dropHead();
        continue;
      }
      // Enough for `max` lines of this segment's average length, with a margin: a chunk
      // is one batch, not the next 4 MB.
      const average = head.lines > 0 ? head.size / head.lines : 256;
      let length = Math.min(left, READ_BYTES, Math.max(MIN_READ_BYTES, Math.ceil(average * max * 1.25)));
      let chunk = await this.readAt(head, length, max);
      if (!chunk && length < Math.min(left, READ_BYTES)) chunk = await this.readAt(head, (length = Math.min(left, READ_BYTES)), max);
      if (!chunk) throw new Error(`spool segment ${head.path} holds a line longer than ${READ_BYTES} bytes`);
      return chunk;
    }
  }

  /** fsync now (graceful stop) and release the file. */
  close(): void {
    if (this.fsyncTimer) clearTimeout(this.fsyncTimer);
    this.fsyncTimer = undefined;
    const f = this.file;
    this.file = undefined;
    if (!f) return;
    // Also when an fsync is still under way: its result is not known yet.
    if (f.dirty || f.syncing) {
      try {
        fsyncSync(f.fd);
      } catch {
        /* nothing left to report it to */
      }
    }
    f.dirty = false;
    f.closed = true;
    closeSync(f.fd);
  }

  /** The complete lines in `length` bytes of the head from where replay stands, or undefined when there is none. */
  private async readAt(head: Segment, length: number, max: number): Promise<SpoolChunk | undefined> {
    const offset = this.headOffset;
    const buf = Buffer.allocUnsafe(length);
    const handle = await openAsync(head.path, 'r');
    let got = 0;
    try {
      while (got < length) {
        const { bytesRead } = await handle.read(buf, got, length - got, offset + got);
        if (bytesRead <= 0) break;
        got += bytesRead;
      }
    } finally {
      await handle.close();
    }
    const groups: LineGroup[] = [];
    let group: LineGroup | undefined;
    let count = 0;
    let pos = 0;
    while (count < max) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0 || nl >= got) break;
      const text = buf.toString('utf8', pos, nl);
      pos = nl + 1;
      const space = text.indexOf(' ');
      const rp = space > 0 ? text.slice(0, space) : '';
      const line = space > 0 ? text.slice(space + 1) : text;
      if (!group || group.rp !== rp) {
        group = groups.find((g) => g.rp === rp);
        if (!group) groups.push((group = { rp, lines: [] }));
      }
      group.lines.push(line);
      count++;
    }
    if (pos === 0) return undefined;
    const consumed = pos;
    return {
      groups,
      count,
      commit: () => {
        if (this.segments[0] !== head || this.headOffset !== offset) return;
        this.headOffset += consumed;
        this.headLinesDone += count;
        if (this.headOffset >= head.size) this.dropHead();
      },
    };
  }

  private writable(): Segment {
    const last = this.segments.at(-1);
    // A new process never appends to a segment an earlier run left (it may be mid-replay).
    if (last && this.file && last.size < SEGMENT_BYTES) return last;
    if (this.file) this.retire(this.file);
    const n = ++this.lastN;
    const seg: Segment = { n, path: join(this.dir, `spool-${String(n).padStart(10, '0')}.lp`), size: 0, lines: 0 };
    this.file = { fd: openSync(seg.path, 'a'), dirty: false, syncing: false, retired: false, closed: false };
    this.segments.push(seg);
    return seg;
  }

  private dropHead(): void {
    const head = this.segments.shift();
    this.headOffset = 0;
    this.headLinesDone = 0;
    if (!head) return;
    if (this.segments.length === 0 && this.file) {
      // Every line of it is written: nothing to sync, it is about to go.
      if (this.fsyncTimer) clearTimeout(this.fsyncTimer);
      this.fsyncTimer = undefined;
      this.file.dirty = false;
      this.retire(this.file);
      this.file = undefined;
    }
    try {
      unlinkSync(head.path);
    } catch {
      /* already gone */
    }
  }

  private scheduleFsync(): void {
    this.file!.dirty = true;
    if (this.fsyncTimer) return;
    this.fsyncTimer = setTimeout(() => {
      this.fsyncTimer = undefined;
      if (this.file) this.sync(this.file);
    }, this.fsyncMs);
    this.fsyncTimer.unref();
  }

  /** fsync on the thread pool; one at a time per file, and a retired file is closed after its last. */
  private sync(f: OpenFile): void {
    if (f.syncing || f.closed) return;
    if (!f.dirty) {
      if (f.retired) closeFile(f);
      return;
    }
    f.dirty = false;
    f.syncing = true;
    fsync(f.fd, () => {
      // An error is reported by the next append (write(2) fails the same way).
      f.syncing = false;
      if (f.dirty && !f.retired) this.scheduleFsync();
      else if (f.retired) this.sync(f);
    });
  }

  /** No more appends to this file: sync what is unsynced, then close it (both off the event loop). */
  private retire(f: OpenFile): void {
    f.retired = true;
    this.sync(f);
  }
}

function closeFile(f: OpenFile): void {
  if (f.closed) return;
  f.closed = true;
  close(f.fd, () => {});
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
