import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import { silentLogger, type Logger } from '../log.ts';
import type { Role } from './roles.ts';

/**
 * The audit log (issue 6, item 2): one JSON line per state-changing request and per
 * denial — who (token id and role, never the token), what (method, route, path,
 * room, target), when (wall-clock ISO time), and the result. The file is only ever
 * appended to (O_APPEND, mode 0600), so an entry once written is never rewritten;
 * rotation is left to the host's logrotate (copytruncate).
 *
 * P15: entries name meetings by id; a title or organizer never gets here, and neither
 * does a query string (a WebSocket may carry its token there).
 */
export interface AuditEntry {
  ts: string;
  tokenId: string | null;
  role: Role | null;
  method: string;
  /** The route pattern, e.g. `/api/v1/rooms/:room/scenes/:scene`; null when no route matched. */
  route: string | null;
  /** The request path, without its query string. */
  path: string;
  room?: string;
  /** What was acted on besides the room: a scene, a meeting id, an alert id, a token id. */
  target?: string;
  status: number;
  /** ok: done; denied: 401/403/429; invalid: other 4xx; failed: 5xx. */
  result: 'ok' | 'denied' | 'invalid' | 'failed';
  reason?: string;
  ip?: string;
}

export interface AuditQuery {
  since?: number;
  until?: number;
  tokenId?: string;
  result?: AuditEntry['result'];
  room?: string;
  /** Newest first, at most this many (default 200). */
  limit?: number;
}

/** Only the newest part of a very large log is searched by the API (older lines stay in the file). */
const MAX_QUERY_BYTES = 32 * 1024 * 1024;

export class AuditLog {
  private log: Logger;
  private ready = false;
  /** Entries that could not be written (disk full, permissions): counted, reported in /metrics. */
  failures = 0;
  written = 0;

  constructor(
    readonly file: string,
    options: { logger?: Logger } = {},
  ) {
    this.log = options.logger ?? silentLogger;
  }

  append(entry: AuditEntry): void {
    try {
      if (!this.ready) {
        mkdirSync(dirname(this.file), { recursive: true });
        this.ready = true;
      }
      appendFileSync(this.file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
      this.written++;
    } catch (err) {
      this.failures++;
      this.log.error({ err: (err as Error).message, file: this.file }, 'audit: could not append an entry');
    }
  }

  query(q: AuditQuery = {}): AuditEntry[] {
    const limit = Math.max(1, Math.min(q.limit ?? 200, 5000));
    const out: AuditEntry[] = [];
    const lines = this.tail().split('\n');
    for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
      const line = lines[i]!;
      if (!line) continue;
      let e: AuditEntry;
      try {
        e = JSON.parse(line) as AuditEntry;
      } catch {
        continue; // a torn last line after a crash, or a partial first line of the tail window
      }
      const t = Date.parse(e.ts);
      if (q.since !== undefined && t < q.since) continue;
      if (q.until !== undefined && t >= q.until) continue;
      if (q.tokenId !== undefined && e.tokenId !== q.tokenId) continue;
      if (q.result !== undefined && e.result !== q.result) continue;
      if (q.room !== undefined && e.room !== q.room) continue;
      out.push(e);
    }
    return out;
  }

  private tail(): string {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return '';
    }
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, MAX_QUERY_BYTES);
      const buf = Buffer.alloc(length);
      let read = 0;
      while (read < length) {
        const n = readSync(fd, buf, read, length - read, size - length + read);
        if (n === 0) break;
        read += n;
      }
      return buf.subarray(0, read).toString('utf8');
    } finally {
      closeSync(fd);
    }
  }
}
