/**
 * InfluxDB line protocol, built and validated here so that a malformed point is caught
 * (and reported alone) before it is ever sent: the recorder never relies on the server
 * to find its own mistakes. See adapters/influx.ts for what the server does with one.
 */
export type FieldValue = number | boolean | string;

export interface Row {
  measurement: string;
  /** Empty or undefined tag values are left out (InfluxDB does not store empty tags). */
  tags: Record<string, string | undefined>;
  /** Tags that must be present as non-empty text, or the row is rejected. */
  required?: readonly string[];
  /** Undefined/null fields are left out; at least one must remain. */
  fields: Record<string, FieldValue | null | undefined>;
  /** Milliseconds since the epoch. */
  ts: number;
  /**
   * true (default): a row never overwrites an earlier row of the same series — two
   * rows in the same millisecond get distinct nanosecond timestamps. false: the row is
   * keyed by its timestamp on purpose (a meeting's verdict, a 5-minute mean) and a
   * later write replaces it.
   */
  unique?: boolean;
}

export type Encoded = { ok: true; line: string } | { ok: false; reason: string };

/** Longest string field kept; longer text is cut (InfluxDB's own limit is 64 KiB). */
const MAX_STRING = 1024;
/** Tag values are identifiers (room ids, device names, point ids, check names). */
const BAD_TAG = /[\\\u0000-\u001f\u007f]/;
// Nanoseconds per millisecond, as digits appended to the millisecond count.
const SUB_DIGITS = 6;
const SUB_LIMIT = 10 ** SUB_DIGITS;
const NEEDS_CLEANING = /[\u0000-\u001f\u007f\\"]/;

/** Beyond this many distinct series the cache starts over (bounds memory on odd input). */
const MAX_SERIES = 100_000;

/** A series (measurement + tags) as the encoder caches it; a hot path may keep one. */
export interface Series {
  /** Escaped `measurement,tag=value,…`, or why the tags cannot be written. */
  text: string;
  error?: string;
  /** Last timestamp used, so rows in one millisecond stay distinct. */
  ms: number;
  sub: number;
  back: number;
}

export class LineEncoder {
  /** Per series (raw measurement + tags): its escaped text and last timestamp. Tags are low-cardinality, so this stays small. */
  private cache = new Map<string, Series>();
  private fieldKeys = new Map<string, string>();

  encode(row: Row): Encoded {
    const series = this.seriesOf(row);
    if (series.error) return { ok: false, reason: series.error };
    let fields = '';
    for (const key in row.fields) {
      const value = row.fields[key];
      if (value === undefined || value === null) continue;
      let text: string;
      if (typeof value === 'number') {
        if (!Number.isFinite(value)) return { ok: false, reason: `field ${key} is ${value}, not a finite number` };
        text = Object.is(value, -0) ? '0' : String(value);
      } else if (typeof value === 'boolean') text = value ? 'true' : 'false';
      else if (typeof value === 'string') text = quoteString(value);
      else return { ok: false, reason: `field ${key} is ${typeof value}, not a number, boolean or text` };
      let k = this.fieldKeys.get(key);
      if (k === undefined) this.fieldKeys.set(key, (k = escapeKey(key, /[,= ]/g)));
      fields += fields ? `,${k}=${text}` : `${k}=${text}`;
    }
    if (!fields) return { ok: false, reason: 'no fields to write' };
    return this.line(series, fields, row.ts, row.unique);
  }

  /**
   * A line from a series (from seriesOf) and already-encoded fields: the hot path for
   * telemetry, which keeps each point's series instead of re-escaping its tags.
   */
  line(series: Series, fields: string, ts: number, unique = true): Encoded {
    if (series.error) return { ok: false, reason: series.error };
    if (!Number.isFinite(ts) || ts < 0) return { ok: false, reason: `timestamp ${String(ts)} is not a time` };
    const ms = Math.floor(ts);
    const ns = unique === false ? `${msText(ms)}000000` : uniqueNs(series, ms);
    return { ok: true, line: `${series.text} ${fields} ${ns}` };
  }

  /** The row's series, validated and escaped once (cached). Check `error`. */
  seriesOf(row: Row): Series {
    if (row.required)
      for (const k of row.required) {
        const v = row.tags[k];
        if (typeof v !== 'string' || v === '') return { text: '', error: `tag ${k} is missing (${v === '' ? 'empty' : typeof v})`, ms: 0, sub: 0, back: 0 };
      }
    let key = row.measurement;
    for (const k in row.tags) {
      const v = row.tags[k];
      if (v === undefined || v === '') continue;
      if (typeof v !== 'string') return { text: '', error: `tag ${k} is ${typeof v}, not text`, ms: 0, sub: 0, back: 0 };
      // The separators below cannot be forged: a control character is never a valid tag.
      if (v.includes('\u0000') || v.includes('\u0001')) return { text: '', error: `tag ${k} contains a backslash or a control character`, ms: 0, sub: 0, back: 0 };
      key += `\u0000${k}\u0001${v}`;
    }
    let s = this.cache.get(key);
    if (s) return s;
    s = { text: '', ms: -1, sub: 0, back: 0 };
    let text = escapeKey(row.measurement, /[, ]/g);
    for (const k of Object.keys(row.tags).sort()) {
      const v = row.tags[k];
      if (v === undefined || v === '') continue;
      if (BAD_TAG.test(v as string)) s.error = `tag ${k} contains a backslash or a control character`;
      else text += `,${escapeKey(k, /[,= ]/g)}=${escapeKey(v as string, /[,= ]/g)}`;
    }
    s.text = text;
    if (this.cache.size >= MAX_SERIES) this.cache.clear();
    this.cache.set(key, s);
    return s;
  }
}

/** The last millisecond written as text: points arrive in time order, many in the same millisecond. */
let lastMs = -1;
let lastMsText = '';

function msText(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastMsText = String(ms);
  }
  return lastMsText;
}

function uniqueNs(s: Series, ms: number): string {
  let sub = 0;
  if (ms > s.ms) {
    s.ms = ms;
    s.sub = 0;
  } else if (ms === s.ms && s.sub + 1 < SUB_LIMIT) sub = ++s.sub;
  else sub = s.back = (s.back + 1) % SUB_LIMIT; // out of order: rare; spread within the ms
  return sub === 0 ? `${msText(ms)}000000` : `${msText(ms)}${String(sub).padStart(SUB_DIGITS, '0')}`;
}

function escapeKey(s: string, special: RegExp): string {
  return s.replace(special, (c) => `\\${c}`);
}

/** A string field value: quoted, quotes and backslashes escaped, newlines and control characters as spaces (the spool is line-based). */
export function quoteString(s: string): string {
  const cut = s.length > MAX_STRING ? s.slice(0, MAX_STRING) : s;
  if (!NEEDS_CLEANING.test(cut)) return `"${cut}"`;
  return `"${cut.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
