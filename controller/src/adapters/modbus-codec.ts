import { REGISTER_WIDTH, type RegisterType } from '../config/profile-schema.ts';
import { ErrorCode, RoomctlError } from '../errors.ts';
import type { ResolvedPoint } from '../model/devices.ts';
import type { PointValue } from '../model/points.ts';

/**
 * Modbus register encoding: pure functions, no protocol library, so every type, byte
 * order and bit field is tested against hand-computed bytes without a socket.
 *
 * A value is laid out big-endian (bytes A B C D … from the most significant), then
 * `word_order: little` reverses the order of its registers and `byte_order: little`
 * swaps the two bytes inside each register. Together they give the four orders
 * vendor manuals name: ABCD (neither), BADC (bytes), CDAB (words), DCBA (both).
 * Read planning (which requests read which points) lives in modbus-plan.ts.
 */
export type ModbusTable = 'holding' | 'input' | 'coil' | 'discrete';
export type { RegisterType };
export type WordOrder = 'big' | 'little';
export type ByteOrder = 'big' | 'little';
export type PointMap = NonNullable<ResolvedPoint['modbus']>;


const INTEGER_RANGE = { int16: [-0x8000, 0x7fff], uint16: [0, 0xffff], int32: [-0x80000000, 0x7fffffff], uint32: [0, 0xffffffff] } as const;
const FLOAT32_MAX = 3.4028234663852886e38;

export const isBitTable = (table: ModbusTable): boolean => table === 'coil' || table === 'discrete';

/** Registers (or bits) a point occupies: 32-bit types span two registers, 64-bit four. */
export function pointWidth(map: Pick<PointMap, 'table' | 'type'>): 1 | 2 | 4 {
  return isBitTable(map.table) ? 1 : REGISTER_WIDTH[map.type];
}

const swap16 = (w: number) => ((w & 0xff) << 8) | ((w >> 8) & 0xff);

/** Register words as they are on the wire ↔ the value's big-endian bytes. Its own inverse. */
function reorder(words: readonly number[], order: WordOrder, byteOrder: ByteOrder): number[] {
  const ws = words.map((w) => w & 0xffff);
  if (order === 'little') ws.reverse();
  return byteOrder === 'little' ? ws.map(swap16) : ws;
}

/** Raw number from a type's register words (as received). 64-bit integers beyond 2^53 lose their last digits. */
export function decodeRegisters(words: readonly number[], type: RegisterType, order: WordOrder, byteOrder: ByteOrder = 'big'): number {
  const width = REGISTER_WIDTH[type];
  const view = new DataView(new ArrayBuffer(8));
  reorder(words.slice(0, width), order, byteOrder).forEach((w, i) => view.setUint16(i * 2, w));
  switch (type) {
    case 'int16': return view.getInt16(0);
    case 'uint16': return view.getUint16(0);
    case 'int32': return view.getInt32(0);
    case 'uint32': return view.getUint32(0);
    case 'float32': return view.getFloat32(0);
    case 'int64': return Number(view.getBigInt64(0));
    case 'uint64': return Number(view.getBigUint64(0));
    case 'float64': return view.getFloat64(0);
  }
}

/** Register words (to send) for a raw number; throws when it does not fit the type, so nothing wraps around. */
export function encodeRegisters(raw: number, type: RegisterType, order: WordOrder, byteOrder: ByteOrder = 'big'): number[] {
  if (!Number.isFinite(raw)) throw invalid(`${raw} cannot be written as ${type}`);
  const view = new DataView(new ArrayBuffer(8));
  if (type === 'float32') {
    if (Math.abs(raw) > FLOAT32_MAX) throw invalid(`${raw} does not fit a float32 register pair`);
    view.setFloat32(0, raw);
  } else if (type === 'float64') {
    view.setFloat64(0, raw);
  } else if (type === 'int64' || type === 'uint64') {
    // Beyond 2^53 a JavaScript number is no longer an exact integer: refuse rather than write a neighbour.
    if (!Number.isSafeInteger(raw) || (type === 'uint64' && raw < 0)) throw invalid(`${raw} does not fit ${type} exactly (whole numbers up to ±2^53${type === 'uint64' ? ', not negative' : ''})`);
    if (type === 'int64') view.setBigInt64(0, BigInt(raw));
    else view.setBigUint64(0, BigInt(raw));
  } else {
    const [lo, hi] = INTEGER_RANGE[type];
    if (!Number.isInteger(raw) || raw < lo || raw > hi) throw invalid(`${raw} does not fit ${type} (${lo}..${hi})`);
    if (type === 'int16' || type === 'uint16') view.setUint16(0, raw & 0xffff);
    else view.setUint32(0, raw >>> 0);
  }
  const words = Array.from({ length: REGISTER_WIDTH[type] }, (_, i) => view.getUint16(i * 2));
  return reorder(words, order, byteOrder);
}

/** A bit field of a register, in the register's logical (byte-order corrected) value. */
export function fieldOf(map: Pick<PointMap, 'bit' | 'bits'>): { from: number; mask: number } | undefined {
  if (map.bit !== undefined) return { from: map.bit, mask: 1 << map.bit };
  if (!map.bits) return undefined;
  const [from, to] = map.bits;
  return { from, mask: ((1 << (to - from + 1)) - 1) << from };
}

/**
 * Point value from its registers (or its bit): value = raw*scale+offset, enum raw →
 * value, a `bit` → boolean. An enum raw with no mapping comes back as the raw number,
 * so checkReading() rejects it with the number in the reason. Not range-checked here:
 * that is checkReading()'s job, the same for every protocol.
 */
export function decodePoint(point: ResolvedPoint, data: readonly number[] | boolean): PointValue {
  const map = point.modbus!;
  if (typeof data === 'boolean') return data;
  const field = fieldOf(map);
  let raw: number;
  if (field) {
    const word = decodeRegisters(data, 'uint16', 'big', map.byte_order ?? 'big');
    raw = (word & field.mask) >>> field.from;
    if (map.bit !== undefined && !map.enum) return raw === 1;
  } else raw = decodeRegisters(data, map.type, map.word_order, map.byte_order ?? 'big');
  if (map.enum) return map.enum[String(raw)] ?? raw;
  if (point.def.type === 'boolean') return raw;
  const value = raw * map.scale + map.offset;
  if (map.type === 'float32') return tidyFloat32(value);
  if (map.type === 'float64') return value;
  // 3 * 0.1 is 0.30000000000000004: keep only the decimals the scale and offset can produce.
  const places = decimals(map.scale) + decimals(map.offset);
  return places > 0 && places <= 15 ? Number(value.toFixed(places)) : value;
}

/**
 * What a write puts in the unit. A bit field carries `mask` and `bits` in wire terms
 * (byte order applied): the register becomes (old & ~mask) | bits, by read-modify-write
 * or by FC22 (mask write) in the unit itself.
 */
export type WriteRequest =
  | { table: 'coil'; address: number; bit: boolean }
  | { table: 'holding'; address: number; registers: number[] }
  | { table: 'holding'; address: number; mask: number; bits: number };

/** A write with its function code: the point's write_function, else 5 (coil), 6 (one register or a bit field) or 16. */
export type WriteOp = WriteRequest & { fc: 5 | 15 | 6 | 16 | 22 };

/**
 * The write for a point value: scale and offset inverted and rounded, enum value →
 * raw. The caller has already clamped the value to the point's safe limits; this
 * still refuses anything the register (or bit field) cannot hold.
 */
export function encodePoint(point: ResolvedPoint, value: PointValue): WriteRequest {
  const map = point.modbus;
  if (!map) throw new RoomctlError(ErrorCode.PointUnknown, `point ${point.id} has no Modbus mapping`);
  if (map.table === 'input' || map.table === 'discrete') throw new RoomctlError(ErrorCode.PointNotWritable, `point ${point.id} is in the read-only ${map.table} table`);
  if (map.table === 'coil') {
    if (typeof value !== 'boolean') throw invalid(`coil point ${point.id} takes true or false, got ${JSON.stringify(value)}`);
    return { table: 'coil', address: map.address, bit: value };
  }
  let raw: number;
  if (map.enum) {
    const key = Object.entries(map.enum).find(([, v]) => v === value)?.[0];
    if (key === undefined) throw invalid(`point ${point.id} has no register value for ${JSON.stringify(value)}`);
    raw = Number(key);
  } else if (typeof value === 'boolean') {
    raw = value ? 1 : 0;
  } else if (typeof value === 'number') {
    raw = (value - map.offset) / map.scale;
    if (map.type !== 'float32' && map.type !== 'float64') raw = Math.round(raw);
  } else {
    throw invalid(`point ${point.id} takes a number, got ${JSON.stringify(value)}`);
  }
  const field = fieldOf(map);
  if (!field) return { table: 'holding', address: map.address, registers: encodeRegisters(raw, map.type, map.word_order, map.byte_order ?? 'big') };
  const max = field.mask >>> field.from;
  if (!Number.isInteger(raw) || raw < 0 || raw > max) throw invalid(`${raw} does not fit bits ${field.from}..${field.from + Math.log2(max + 1) - 1} of ${point.id} (0..${max})`);
  const swap = map.byte_order === 'little' ? swap16 : (w: number) => w;
  return { table: 'holding', address: map.address, mask: swap(field.mask), bits: swap((raw << field.from) & field.mask) };
}

export function writeOp(point: ResolvedPoint, value: PointValue): WriteOp {
  const req = encodePoint(point, value);
  const chosen = point.modbus!.write_function;
  if (chosen !== undefined) return { ...req, fc: chosen };
  if (req.table === 'coil') return { ...req, fc: 5 };
  return { ...req, fc: 'registers' in req && req.registers.length > 1 ? 16 : 6 };
}

/** A register after a bit-field write: the other bits exactly as they were. */
export const applyField = (old: number, req: { mask: number; bits: number }): number => ((old & ~req.mask) | (req.bits & req.mask)) & 0xffff;

/** FC22's masks: the unit computes (current AND and) OR (or AND NOT and), so it never sends back bits it did not mean to change. */
export const maskWriteMasks = (req: { mask: number; bits: number }) => ({ and: ~req.mask & 0xffff, or: req.bits & req.mask });

/** Shortest decimal that is the same float32, so 21.3 reads as 21.3, not 21.299999237060547. */
function tidyFloat32(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const y = Number(f.toPrecision(p));
    if (Math.fround(y) === f) return y;
  }
  return f;
}

function decimals(n: number): number {
  const s = String(n);
  const exp = /e-(\d+)$/.exec(s);
  if (exp) return Number(exp[1]) + (s.split('e')[0]!.split('.')[1]?.length ?? 0);
  return s.split('.')[1]?.length ?? 0;
}

function invalid(message: string): RoomctlError {
  return new RoomctlError(ErrorCode.PointValueInvalid, message);
}
