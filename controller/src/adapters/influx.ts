import http from 'node:http';
import https from 'node:https';
import { InfluxDB, escape } from 'influx';
import { RequestError } from 'influx/lib/src/pool.js';
import { ExponentialBackoff } from 'influx/lib/src/backoff/exponential.js';
import { ErrorCode, RoomctlError } from '../errors.ts';

/**
 * The only module that imports `influx` (node-influx, the InfluxDB v1 HTTP API client).
 * Works with InfluxDB 1.x and with the v1-compatible API of 2.x/3.x.
 *
 * How a write can end, as observed against influxd 1.6:
 *   204                      every line written
 *   400 "partial write: unable to parse '<line>': … dropped=0"
 *                            the unparsable lines are dropped, every other line IS written
 *   400 "partial write: field type conflict: … dropped=N" / "points beyond retention policy dropped=N"
 *                            N lines dropped, the others written
 *   400 "unable to parse …"  (no "partial write") every line of the batch was bad
 *   404 "database not found" nothing written
 * InfluxDB 2.x rejects a whole batch on one parse error (400 without "partial write");
 * such a batch is bisected so that only the bad line is rejected.
 */
export interface InfluxTarget {
  url: string;
  database: string;
  username?: string;
  password?: string;
  timeoutMs: number;
}

export interface RetentionSpec {
  name: string;
  days: number;
  isDefault: boolean;
}

export interface LineRejection {
  /** The line, when the server named it (or bisection isolated it). */
  line?: string;
  reason: string;
  count: number;
}

export type WriteOutcome =
  /** InfluxDB took the batch; `rejected` lines were refused for good and must not be retried. */
  | { ok: true; written: number; rejected: LineRejection[] }
  /** Nothing (reliably) written; retry later. `schemaMissing`: the database has gone. */
  | { ok: false; reason: string; schemaMissing: boolean };

/** An encoded batch: its body (pieces sent one after the other), its line count, and its lines on demand. */
export interface BodyToWrite {
  count: number;
  body: readonly Buffer[];
  lines(): readonly string[];
}

export type QueryRow = Record<string, unknown> & { time?: string };

/** A write's HTTP answer: its status and, when it is not a success, InfluxDB's reason. */
interface WriteAnswer {
  status: number;
  reason: string;
}

/**
 * Queries, schema and ping go through node-influx. Writes do not: its writePoints()
 * only takes point objects and serialises them itself, while the recorder builds (and
 * validates) its own line protocol and the spool replays exactly those lines. So a
 * batch is POSTed here as the bytes the recorder made, over the keep-alive agent both
 * share — no copy of the body per request (node-influx's pool copied it to measure
 * it), and a batch may arrive as several pieces, each encoded as it filled.
 */
export class InfluxConnection {
  private readonly client: InfluxDB;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly url: URL;
  private readonly headers: Record<string, string> = {};
  private readonly writePaths = new Map<string, string>();

  constructor(private readonly target: InfluxTarget) {
    const url = (this.url = new URL(target.url));
    const secure = url.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 4 }) : new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.request = secure ? https.request : http.request;
    if (target.username !== undefined) this.headers.authorization = `Basic ${Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64')}`;
    // No retries inside node-influx's pool: the recorder decides (spool, then replay);
    // a short backoff so a restarted server is tried again within about a second.
    const poolOptions = { maxRetries: 0, requestTimeout: target.timeoutMs, backoff: new ExponentialBackoff({ initial: 100, max: 1000, random: 0.5 }) };
    const port = url.port ? Number(url.port) : secure ? 443 : 80;
    this.client = new InfluxDB({
      hosts: [{ host: url.hostname, port, protocol: secure ? 'https' : 'http', path: url.pathname === '/' ? '' : url.pathname, options: { agent: this.agent } }],
      database: target.database,
      username: target.username,
      password: target.password,
      pool: poolOptions,
    });
  }

  get database(): string {
    return this.target.database;
  }

  /** Creates the database and retention policies (idempotent; alters durations that changed). */
  async ensureSchema(policies: RetentionSpec[]): Promise<void> {
    try {
      await this.client.createDatabase(this.target.database);
      const existing = await this.client.showRetentionPolicies(this.target.database);
      for (const p of policies) {
        const options = { database: this.target.database, duration: `${p.days}d`, replication: 1, isDefault: p.isDefault };
        const found = existing.find((e) => e.name === p.name);
        if (!found) await this.client.createRetentionPolicy(p.name, options);
        else if (parseDurationHours(found.duration) !== p.days * 24 || found.default !== p.isDefault) await this.client.alterRetentionPolicy(p.name, options);
      }
    } catch (err) {
      throw asRoomctlError(err, 'cannot create the InfluxDB database and retention policies');
    }
  }

  /** Writes line-protocol lines (no trailing newline each) into one retention policy. */
  writeLines(rp: string, lines: readonly string[]): Promise<WriteOutcome> {
    return this.writeBody(rp, { count: lines.length, body: [Buffer.from(lines.join('\n'))], lines: () => lines });
  }

  /**
   * Writes a body the caller has already encoded (the recorder's batches): its pieces
   * are sent one after the other, and its lines are asked for only when InfluxDB
   * refused some of them (to name them, or to bisect the batch).
   */
  async writeBody(rp: string, batch: BodyToWrite): Promise<WriteOutcome> {
    if (batch.count === 0) return { ok: true, written: 0, rejected: [] };
    let answer: WriteAnswer;
    try {
      answer = await this.post(rp, batch.body);
    } catch (err) {
      // No answer at all (refused, reset, timed out): nothing is known to be written.
      return { ok: false, reason: errorText(err), schemaMissing: false };
    }
    const { status, reason } = answer;
    if (status >= 200 && status < 300) return { ok: true, written: batch.count, rejected: [] };
    if (status === 400 || status === 422 || status === 413) {
      const count = batch.count;
      if (/partial write/.test(reason)) {
        // influxd 1.x wrote every other line; count exactly what it refused.
        const unparsable = reason.split("unable to parse '").slice(1).map(splitParseError);
        const dropped = Number(/dropped=(\d+)/.exec(reason)?.[1] ?? 0);
        const refused = Math.min(count, unparsable.length + dropped) || 1;
        const rejected: LineRejection[] = unparsable.map((u) => ({ ...u, count: 1 }));
        if (dropped > 0 || rejected.length === 0) rejected.push({ reason, count: refused - unparsable.length });
        return { ok: true, written: count - refused, rejected };
      }
      const lines = batch.lines();
      if (count === 1) return { ok: true, written: 0, rejected: [{ line: lines[0], reason, count: 1 }] };
      // The whole batch was refused (2.x on one parse error, or a body too large): bisect,
      // so only the bad line is lost. Rewriting good lines is harmless: same series and
      // timestamp overwrite rather than duplicate.
      const mid = lines.length >> 1;
      const first = await this.writeLines(rp, lines.slice(0, mid));
      if (!first.ok) return first;
      const second = await this.writeLines(rp, lines.slice(mid));
      if (!second.ok) return second;
      return { ok: true, written: first.written + second.written, rejected: [...first.rejected, ...second.rejected] };
    }
    return { ok: false, reason, schemaMissing: status === 404 || /database not found/.test(reason) };
  }

  /** One POST /write; resolves with the status (and InfluxDB's reason when it refused), rejects when there was no answer. */
  private post(rp: string, pieces: readonly Buffer[]): Promise<WriteAnswer> {
    let path = this.writePaths.get(rp);
    if (path === undefined) {
      const base = this.url.pathname === '/' ? '' : this.url.pathname.replace(/\/$/, '');
      const query = new URLSearchParams({ db: this.target.database, rp, precision: 'n' });
      this.writePaths.set(rp, (path = `${base}/write?${query}`));
    }
    let length = 0;
    for (const b of pieces) length += b.length;
    return new Promise((resolve, reject) => {
      const req = this.request(
        { protocol: this.url.protocol, hostname: this.url.hostname, port: this.url.port, path, method: 'POST', agent: this.agent, headers: { ...this.headers, 'content-type': 'text/plain; charset=utf-8', 'content-length': length } },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            res.resume();
            res.on('end', () => resolve({ status, reason: '' }));
            return;
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status, reason: answerText(status, res.statusMessage, text) }));
          res.on('error', reject);
        },
      );
      req.setTimeout(this.target.timeoutMs, () => req.destroy(Object.assign(new Error(`InfluxDB did not answer within ${this.target.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      for (const b of pieces) req.write(b);
      req.end();
    });
  }

  /** Runs InfluxQL; rows of every series flattened, each with its tags. */
  async query(influxql: string): Promise<QueryRow[]> {
    const raw = await this.queryRaw(influxql);
    const rows: QueryRow[] = [];
    for (const result of raw.results ?? []) {
      if (result.error) throw new RoomctlError(ErrorCode.InfluxQueryFailed, `InfluxDB refused the query: ${result.error}`, { query: influxql });
      for (const series of result.series ?? []) {
        for (const values of series.values ?? []) {
          const row: QueryRow = { ...(series.tags ?? {}) };
          series.columns.forEach((c, i) => (row[c] = values[i]));
          rows.push(row);
        }
      }
    }
    return rows;
  }

  /** Runs InfluxQL and returns InfluxDB's JSON answer as it is (series with columns and values). */
  async queryRaw(influxql: string): Promise<RawQueryAnswer> {
    try {
      return (await this.client.queryRaw(influxql, { database: this.target.database })) as RawQueryAnswer;
    } catch (err) {
      throw asRoomctlError(err, 'InfluxDB query failed', influxql);
    }
  }

  /** True when the server answers /ping. */
  async ping(timeoutMs = 2000): Promise<boolean> {
    const hosts = await this.client.ping(timeoutMs);
    return hosts.some((h) => h.online);
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface RawQueryAnswer {
  results?: { statement_id?: number; error?: string; series?: { name: string; tags?: Record<string, string>; columns: string[]; values?: unknown[][] }[] }[];
  error?: string;
}

/** An InfluxQL string literal: 'it''s' style escaping as the server expects. */
export function influxString(value: string): string {
  return escape.stringLit(value);
}

/** An InfluxQL identifier in double quotes. */
export function influxIdent(name: string): string {
  return escape.quoted(name);
}

/** A refused write's reason: InfluxDB's JSON `{"error":"…"}`, else the body or the status line. */
function answerText(status: number, statusMessage: string | undefined, body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: string; message?: string };
    const said = parsed.error ?? parsed.message;
    if (typeof said === 'string') return said;
  } catch {
    /* not JSON */
  }
  return body.trim() || `HTTP ${status}${statusMessage ? ` ${statusMessage}` : ''}`;
}

function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // RequestError carries the JSON body: {"error":"…"}.
  const body = /occurred: (\{.*\})\s*$/s.exec(message)?.[1];
  if (body) {
    try {
      const parsed = JSON.parse(body) as { error?: string; message?: string };
      return parsed.error ?? parsed.message ?? message;
    } catch {
      /* not JSON: keep the message */
    }
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code && !message.includes(code) ? `${code} ${message}` : message || code || 'unknown error';
}

/** "<line>': <why>\n…" (one piece of a partial-write message) → the line and why. */
function splitParseError(piece: string): { line: string; reason: string } {
  const end = piece.lastIndexOf("': ");
  if (end < 0) return { line: piece, reason: 'unable to parse' };
  return { line: piece.slice(0, end), reason: `unable to parse: ${piece.slice(end + 3).split(/\n| dropped=/)[0]}` };
}

function asRoomctlError(err: unknown, what: string, query?: string): RoomctlError {
  if (err instanceof RoomctlError) return err;
  const status = err instanceof RequestError ? err.res.statusCode : undefined;
  const code = status !== undefined && status < 500 ? ErrorCode.InfluxQueryFailed : ErrorCode.InfluxUnavailable;
  return new RoomctlError(code, `${what}: ${errorText(err)}`, query ? { query } : undefined);
}

/** "720h0m0s" → 720; "0s" (infinite) → 0. */
function parseDurationHours(d: string): number {
  const h = /(\d+)h/.exec(d);
  return h ? Number(h[1]) : 0;
}
