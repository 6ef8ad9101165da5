import http from 'node:http';
import https from 'node:https';
import { InfluxDB, escape } from 'influx';
// node-influx's writePoints() only takes point objects and serialises them itself. The
// recorder builds (and validates) its own line protocol, and the spool replays exactly
// those lines, so raw batches go through the library's own HTTP pool — the same code
// path writePoints() ends in — rather than through a second hand-written client.
import { Pool, RequestError } from 'influx/lib/src/pool.js';
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

export type QueryRow = Record<string, unknown> & { time?: string };

export class InfluxConnection {
  private readonly pool: Pool;
  private readonly client: InfluxDB;
  private readonly agent: http.Agent;
  private readonly auth?: string;

  constructor(private readonly target: InfluxTarget) {
    const url = new URL(target.url);
    const secure = url.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 4 }) : new http.Agent({ keepAlive: true, maxSockets: 4 });
    // No retries inside the pool: the recorder decides (spool, then replay); a short
    // backoff so a restarted server is tried again within about a second.
    const poolOptions = { maxRetries: 0, requestTimeout: target.timeoutMs, backoff: new ExponentialBackoff({ initial: 100, max: 1000, random: 0.5 }) };
    this.pool = new Pool(poolOptions);
    this.pool.addHost(target.url, { agent: this.agent });
    const port = url.port ? Number(url.port) : secure ? 443 : 80;
    this.client = new InfluxDB({
      hosts: [{ host: url.hostname, port, protocol: secure ? 'https' : 'http', path: url.pathname === '/' ? '' : url.pathname, options: { agent: this.agent } }],
      database: target.database,
      username: target.username,
      password: target.password,
      pool: poolOptions,
    });
    if (target.username !== undefined) this.auth = `${target.username}:${target.password ?? ''}`;
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

  /**
   * Writes line-protocol lines (no trailing newline each) into one retention policy.
   * `body`: the lines already joined by newlines and UTF-8 encoded, when the caller has it.
   */
  async writeLines(rp: string, lines: readonly string[], body?: Buffer): Promise<WriteOutcome> {
    if (lines.length === 0) return { ok: true, written: 0, rejected: [] };
    let failure: unknown;
    try {
      // The pool passes the body to http.request's write(): a Buffer goes out as it is.
      const payload = (body ?? Buffer.from(lines.join('\n'))) as unknown as string;
      await this.pool.discard({ method: 'POST', path: '/write', query: { db: this.target.database, rp, precision: 'n' }, body: payload, auth: this.auth });
      return { ok: true, written: lines.length, rejected: [] };
    } catch (err) {
      failure = err;
    }
    const status = failure instanceof RequestError ? failure.res.statusCode ?? 0 : 0;
    const reason = errorText(failure);
    if (status === 400 || status === 422 || status === 413) {
      if (/partial write/.test(reason)) {
        // influxd 1.x wrote every other line; count exactly what it refused.
        const unparsable = reason.split("unable to parse '").slice(1).map(splitParseError);
        const dropped = Number(/dropped=(\d+)/.exec(reason)?.[1] ?? 0);
        const count = Math.min(lines.length, unparsable.length + dropped) || 1;
        const rejected: LineRejection[] = unparsable.map((u) => ({ ...u, count: 1 }));
        if (dropped > 0 || rejected.length === 0) rejected.push({ reason, count: count - unparsable.length });
        return { ok: true, written: lines.length - count, rejected };
      }
      if (lines.length === 1) return { ok: true, written: 0, rejected: [{ line: lines[0], reason, count: 1 }] };
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
