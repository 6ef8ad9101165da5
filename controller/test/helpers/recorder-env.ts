import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { influxSchema, type InfluxConfig } from '../../src/config/schema.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { InfluxConnection } from '../../src/adapters/influx.ts';

/** A logger whose lines a test can read (JSON objects). */
export function capturingLogger(level = 'info'): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      out.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger(level, stream), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** The recorder's config section, with defaults, for a test database. */
export function influxConfig(fields: Partial<InfluxConfig> & Record<string, unknown> = {}): InfluxConfig {
  return influxSchema.parse(fields);
}

export function tempDir(prefix = 'roomctl-spool-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Lines held in a spool directory's segment files. */
export function spoolLines(dir: string): string[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.lp')).sort();
  } catch {
    return [];
  }
  return files.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
}

/** A connection for reading back what the recorder wrote. */
export function reader(url: string, database: string): InfluxConnection {
  return new InfluxConnection({ url, database, timeoutMs: 20_000 });
}

/** `SELECT count(field) FROM rp.measurement [WHERE …]` as one number (0 when nothing matches). */
export async function countRows(conn: InfluxConnection, from: string, field: string, where = ''): Promise<number> {
  const rows = await conn.query(`SELECT count("${field}") FROM ${from}${where ? ` WHERE ${where}` : ''}`);
  return rows.reduce((sum, r) => sum + Number(r.count ?? 0), 0);
}

let dbCounter = 0;
/** A database name no other test in this process uses. */
export function uniqueDatabase(prefix = 't'): string {
  return `${prefix}_${process.pid}_${++dbCounter}`;
}
