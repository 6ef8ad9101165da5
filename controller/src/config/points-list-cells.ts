import type { RegisterType } from './profile-schema.ts';

/**
 * The cells of a points list that need reading rather than copying: protocol, Modbus
 * table and address, data type, scale, writable, enum values, host[:port]. Each parser
 * returns the value or a sentence saying what was not understood, which becomes the
 * row's "cannot place" reason.
 */
export type Parsed<T> = { ok: T } | { why: string };
export type Table = 'holding' | 'input' | 'coil' | 'discrete';

const low = (s: string) => s.trim().toLowerCase().replace(/[\s_-]+/g, ' ');

export function parseProtocol(v: string | undefined): Parsed<'modbus' | 'mqtt'> {
  if (!v) return { why: 'no protocol (modbus or mqtt)' };
  const s = low(v);
  if (/^modbus( tcp| rtu( over tcp| via gateway)?)?$/.test(s)) return { ok: 'modbus' };
  if (/^mqtt( json)?$/.test(s)) return { ok: 'mqtt' };
  return { why: `unknown protocol "${v}": roomctl speaks modbus and mqtt` };
}

const TABLES: Record<Table, string[]> = {
  holding: ['holding', 'holding register', 'holding registers', 'hr', '4x', 'fc3', 'ao'],
  input: ['input', 'input register', 'input registers', 'ir', '3x', 'fc4', 'ai'],
  coil: ['coil', 'coils', 'co', '0x', 'fc1', 'do', 'coil status'],
  discrete: ['discrete', 'discrete input', 'discrete inputs', 'di', '1x', 'fc2', 'input status'],
};

export function parseTable(v: string): Parsed<Table> {
  const s = low(v);
  const found = (Object.entries(TABLES) as [Table, string[]][]).find(([, names]) => names.includes(s));
  return found ? { ok: found[0] } : { why: `table "${v}" not understood (holding, input, coil or discrete)` };
}

/**
 * A register cell: a protocol address (0-based, as the table column says), `12.3` for
 * bit 3 of register 12, or — with no table given — a Modicon number (40001 = holding 0,
 * 30001 = input 0, 10001 = discrete 0, 00001 = coil 0; six digits likewise).
 */
export function parseAddress(v: string, table: Table | undefined): Parsed<{ table: Table; address: number; bit?: number }> {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(v.trim());
  if (!m) return { why: `register "${v}" is not a number (e.g. 12, 12.3 for bit 3, or 40013)` };
  const bit = m[2] === undefined ? undefined : Number(m[2]);
  if (bit !== undefined && bit > 15) return { why: `register "${v}": bit ${bit} is past 15` };
  const digits = m[1]!;
  if (table) {
    const address = Number(digits);
    return address > 65535 ? { why: `register ${address} is past 65535` } : { ok: { table, address, bit } };
  }
  if (digits.length === 5 || digits.length === 6) {
    const prefix = digits[0]!;
    const n = Number(digits.slice(1));
    const modicon: Record<string, Table> = { '0': 'coil', '1': 'discrete', '3': 'input', '4': 'holding' };
    if (modicon[prefix] && n >= 1) return { ok: { table: modicon[prefix]!, address: n - 1, bit } };
  }
  return { why: `register "${v}" without a table: give the table column (holding, input, coil, discrete) or a Modicon number such as 40001` };
}

const REGISTER_TYPES: Record<RegisterType, string[]> = {
  int16: ['int16', 's16', 'int', 'short', 'signed', 'sint16', 'signed16', 'integer'],
  uint16: ['uint16', 'u16', 'uint', 'word', 'unsigned', 'unsigned16', 'ushort'],
  int32: ['int32', 's32', 'long', 'dint', 'sint32', 'signed32'],
  uint32: ['uint32', 'u32', 'udint', 'ulong', 'dword', 'unsigned32'],
  float32: ['float32', 'float', 'real', 'f32', 'single', 'ieee754'],
  float64: ['float64', 'double', 'lreal', 'f64'],
  int64: ['int64', 's64', 'lint'],
  uint64: ['uint64', 'u64', 'ulint'],
};
const BOOLEAN = ['bool', 'boolean', 'bit', 'binary', 'digital', 'onoff', 'switch'];
const ENUM = ['enum', 'enumeration', 'multistate', 'state'];
const NUMBER = ['number', 'numeric', 'analog', 'analogue', 'decimal', 'double', 'float', 'int', 'integer', 'real'];
const STRING = ['string', 'text', 'str'];

export type DataType = { point: 'number' | 'boolean' | 'enum' | 'string'; register?: RegisterType };

/** The data type cell; empty = number (a register type's default uint16). */
export function parseType(v: string | undefined, protocol: 'modbus' | 'mqtt'): Parsed<DataType> {
  if (!v) return { ok: { point: 'number' } };
  const s = v.trim().toLowerCase().replace(/[\s_\-/]+/g, '');
  if (BOOLEAN.includes(s)) return { ok: { point: 'boolean' } };
  if (ENUM.includes(s)) return { ok: { point: 'enum', register: protocol === 'modbus' ? 'uint16' : undefined } };
  const register = (Object.entries(REGISTER_TYPES) as [RegisterType, string[]][]).find(([, names]) => names.includes(s))?.[0];
  if (register) return { ok: { point: 'number', register: protocol === 'modbus' ? register : undefined } };
  if (protocol === 'mqtt' && NUMBER.includes(s)) return { ok: { point: 'number' } };
  if (protocol === 'mqtt' && STRING.includes(s)) return { ok: { point: 'string' } };
  return { why: `data type "${v}" not understood (${protocol === 'modbus' ? 'int16, uint16, int32, uint32, float32, float64, bool or enum' : 'number, bool, enum or string'})` };
}

/** `0.1`, `1/10`, `x0.1`; never 0. */
export function parseScale(v: string | undefined): Parsed<number> {
  if (!v) return { ok: 1 };
  const s = v.trim().replace(/^[x×*]\s*/i, '');
  const frac = /^(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(s);
  const n = frac ? Number(frac[1]) / Number(frac[2]) : Number(s);
  if (!Number.isFinite(n) || n === 0 || s === '') return { why: `scale "${v}" is not a number other than 0 (e.g. 0.1 or 1/10)` };
  return { ok: n };
}

export function parseNumber(v: string | undefined, what: string): Parsed<number | undefined> {
  if (!v) return { ok: undefined };
  const n = Number(v.trim());
  return Number.isFinite(n) ? { ok: n } : { why: `${what} "${v}" is not a number` };
}

const WRITABLE = ['yes', 'y', 'true', '1', 'rw', 'r/w', 'read/write', 'readwrite', 'read write', 'w', 'write', 'wo', 'command'];
const READ_ONLY = ['no', 'n', 'false', '0', 'r', 'ro', 'read', 'read only', 'readonly', 'status'];

export function parseWritable(v: string | undefined): Parsed<boolean | undefined> {
  if (!v) return { ok: undefined };
  const s = v.trim().toLowerCase().replace(/[\s_-]+/g, ' ');
  if (WRITABLE.includes(s)) return { ok: true };
  if (READ_ONLY.includes(s)) return { ok: false };
  return { why: `writable "${v}" not understood (yes/no, R or R/W)` };
}

/**
 * Enum values: `open|closed` (the values themselves) or `0=auto; 1=cool; 2=heat`
 * (raw value = name, also with `:`), separated by `;`, `,` or `|`.
 */
export function parseValues(v: string): Parsed<{ values: string[]; map?: Record<string, string> }> {
  const parts = v.split(/[;,|]/).map((p) => p.trim()).filter(Boolean);
  const pairs = parts.map((p) => /^(.+?)\s*[=:]\s*(.+)$/.exec(p));
  const valueName = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
  if (parts.length === 0) return { why: `values "${v}" lists nothing` };
  if (pairs.every(Boolean)) {
    const map = Object.fromEntries(pairs.map((m) => [m![1]!, valueName(m![2]!)]));
    return { ok: { values: [...new Set(Object.values(map))], map } };
  }
  if (pairs.some(Boolean)) return { why: `values "${v}" mix raw=name pairs and bare names` };
  return { ok: { values: parts.map(valueName) } };
}

/** `10.3.0.21`, `10.3.0.21:502`, `gw-3f.local:1502`. */
export function parseHost(v: string): { host: string; port: number } | undefined {
  const m = /^([A-Za-z0-9.-]+?)(?::(\d{1,5}))?$/.exec(v.trim());
  if (!m || !/[.:]/.test(v) && !/^\d/.test(v)) return undefined;
  const port = m[2] === undefined ? 502 : Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}
