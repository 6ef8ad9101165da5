import { ErrorCode, RoomctlError } from '../errors.ts';
import type { ResolvedPoint } from '../model/devices.ts';
import type { PointValue } from '../model/points.ts';

/**
 * Modbus register encoding and read planning: pure functions, no protocol library,
 * so every type, word order and coalescing rule is tested without a socket.
 * Register words are always big-endian bytes (the Modbus standard); `word_order`
 * only decides which of the two registers of a 32-bit value comes first.
 */
export type ModbusTable = 'holding' | 'input' | 'coil' | 'discrete';
export type RegisterType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32';
export type WordOrder = 'big' | 'little';
export type PointMap = NonNullable<ResolvedPoint['modbus']>;

/** Protocol ceilings for one read (Modbus application protocol 1.1b3, FC1-4). */
export const MAX_READ_REGISTERS = 125;
export const MAX_READ_BITS = 2000;
/** Unused registers a read may span to save a request (per-request overhead ≈ 10 registers of payload). */
export const DEFAULT_GAP_BRIDGE = 10;

const INTEGER_RANGE = { int16: [-0x8000, 0x7fff], uint16: [0, 0xffff], int32: [-0x80000000, 0x7fffffff], uint32: [0, 0xffffffff] } as const;
const FLOAT32_MAX = 3.4028234663852886e38;

export const isBitTable = (table: ModbusTable): boolean => table === 'coil' || table === 'discrete';

/** Registers (or bits) a point occupies: 32-bit types span two registers. */
export function pointWidth(map: Pick<PointMap, 'table' | 'type'>): 1 | 2 {
  if (isBitTable(map.table)) return 1;
  return map.type === 'int32' || map.type === 'uint32' || map.type === 'float32' ? 2 : 1;
}

/** Raw number from one or two register words. */
export function decodeRegisters(words: readonly number[], type: RegisterType, order: WordOrder): number {
  const view = new DataView(new ArrayBuffer(4));
  if (type === 'int16' || type === 'uint16') {
    view.setUint16(0, words[0]! & 0xffff);
    return type === 'int16' ? view.getInt16(0) : view.getUint16(0);
  }
  const [first, second] = order === 'big' ? [words[0]!, words[1]!] : [words[1]!, words[0]!];
  view.setUint16(0, first & 0xffff);
  view.setUint16(2, second & 0xffff);
  if (type === 'int32') return view.getInt32(0);
  if (type === 'uint32') return view.getUint32(0);
  return view.getFloat32(0);
}

/** Register words for a raw number; throws when it does not fit the type. */
export function encodeRegisters(raw: number, type: RegisterType, order: WordOrder): number[] {
  if (!Number.isFinite(raw)) throw invalid(`${raw} cannot be written as ${type}`);
  const view = new DataView(new ArrayBuffer(4));
  if (type === 'float32') {
    if (Math.abs(raw) > FLOAT32_MAX) throw invalid(`${raw} does not fit a float32 register pair`);
    view.setFloat32(0, raw);
  } else {
    const [lo, hi] = INTEGER_RANGE[type];
    if (!Number.isInteger(raw) || raw < lo || raw > hi) throw invalid(`${raw} does not fit ${type} (${lo}..${hi})`);
    if (type === 'int16' || type === 'uint16') return [raw & 0xffff];
    view.setUint32(0, raw >>> 0);
  }
  const high = view.getUint16(0);
  const low = view.getUint16(2);
  return order === 'big' ? [high, low] : [low, high];
}

/**
 * Point value from its registers (or its bit): value = raw*scale+offset, enum raw →
 * value. An enum raw with no mapping comes back as the raw number, so checkReading()
 * rejects it with the number in the reason. Not range-checked here: that is
 * checkReading()'s job, the same for every protocol.
 */
export function decodePoint(point: ResolvedPoint, data: readonly number[] | boolean): PointValue {
  const map = point.modbus!;
  if (typeof data === 'boolean') return data;
  const type = map.type as RegisterType;
  const raw = decodeRegisters(data, type, map.word_order);
  if (map.enum) return map.enum[String(raw)] ?? raw;
  if (point.def.type === 'boolean') return raw;
  const value = raw * map.scale + map.offset;
  if (type === 'float32') return tidyFloat32(value);
  // 3 * 0.1 is 0.30000000000000004: keep only the decimals the scale and offset can produce.
  const places = decimals(map.scale) + decimals(map.offset);
  return places > 0 && places <= 15 ? Number(value.toFixed(places)) : value;
}

export type WriteRequest = { table: 'coil'; address: number; bit: boolean } | { table: 'holding'; address: number; registers: number[] };

/**
 * The write for a point value: scale and offset inverted and rounded, enum value →
 * raw. The caller has already clamped the value to the point's safe limits; this
 * still refuses anything the register cannot hold, so nothing wraps around on the wire.
 */
export function encodePoint(point: ResolvedPoint, value: PointValue): WriteRequest {
  const map = point.modbus;
  if (!map) throw new RoomctlError(ErrorCode.PointUnknown, `point ${point.id} has no Modbus mapping`);
  if (map.table === 'input' || map.table === 'discrete') throw new RoomctlError(ErrorCode.PointNotWritable, `point ${point.id} is in the read-only ${map.table} table`);
  if (map.table === 'coil') {
    if (typeof value !== 'boolean') throw invalid(`coil point ${point.id} takes true or false, got ${JSON.stringify(value)}`);
    return { table: 'coil', address: map.address, bit: value };
  }
  const type = map.type as RegisterType;
  let raw: number;
  if (map.enum) {
    const key = Object.entries(map.enum).find(([, v]) => v === value)?.[0];
    if (key === undefined) throw invalid(`point ${point.id} has no register value for ${JSON.stringify(value)}`);
    raw = Number(key);
  } else if (typeof value === 'boolean') {
    raw = value ? 1 : 0;
  } else if (typeof value === 'number') {
    raw = (value - map.offset) / map.scale;
    if (type !== 'float32') raw = Math.round(raw);
  } else {
    throw invalid(`point ${point.id} takes a number, got ${JSON.stringify(value)}`);
  }
  return { table: 'holding', address: map.address, registers: encodeRegisters(raw, type, map.word_order) };
}

export interface PlannedPoint {
  point: ResolvedPoint;
  /** Position of the point's first register (or bit) in the block. */
  offset: number;
  width: 1 | 2;
}

export interface ReadBlock {
  table: ModbusTable;
  address: number;
  count: number;
  points: PlannedPoint[];
}

export interface ReadPlan {
  blocks: ReadBlock[];
  /** Points no read can cover (e.g. a 32-bit value starting at 65535), with why. */
  unplannable: { point: ResolvedPoint; reason: string }[];
}

export interface PlanOptions {
  /** Unused registers a read may span rather than split; bit tables allow 16× as many bits (same bytes). */
  gapBridge?: number;
  maxRegisters?: number;
  maxBits?: number;
}

const TABLE_ORDER: ModbusTable[] = ['input', 'holding', 'coil', 'discrete'];

/**
 * Groups one device's points by table and coalesces them into as few reads as
 * possible: neighbours join a block when the gap between them is at most
 * `gapBridge` and the block stays within the protocol's per-read limit.
 */
export function planReads(points: readonly ResolvedPoint[], options: PlanOptions = {}): ReadPlan {
  const gap = Math.max(0, options.gapBridge ?? DEFAULT_GAP_BRIDGE);
  const maxRegisters = options.maxRegisters ?? MAX_READ_REGISTERS;
  const maxBits = options.maxBits ?? MAX_READ_BITS;
  const blocks: ReadBlock[] = [];
  const unplannable: ReadPlan['unplannable'] = [];
  for (const table of TABLE_ORDER) {
    const bits = isBitTable(table);
    const limit = bits ? maxBits : maxRegisters;
    const bridge = bits ? gap * 16 : gap;
    const spans: { point: ResolvedPoint; start: number; width: 1 | 2 }[] = [];
    for (const point of points) {
      const map = point.modbus;
      if (!map || map.table !== table) continue;
      const width = pointWidth(map);
      if (map.address + width - 1 > 0xffff) unplannable.push({ point, reason: `${table} ${map.address} + ${width} registers runs past address 65535` });
      else spans.push({ point, start: map.address, width });
    }
    spans.sort((a, b) => a.start - b.start || b.width - a.width);
    let block: ReadBlock | undefined;
    for (const s of spans) {
      const end = s.start + s.width - 1;
      if (block) {
        const blockEnd = block.address + block.count - 1;
        const newEnd = Math.max(blockEnd, end);
        if (s.start - blockEnd - 1 <= bridge && newEnd - block.address + 1 <= limit) {
          block.count = newEnd - block.address + 1;
          block.points.push({ point: s.point, offset: s.start - block.address, width: s.width });
          continue;
        }
      }
      block = { table, address: s.start, count: s.width, points: [{ point: s.point, offset: 0, width: s.width }] };
      blocks.push(block);
    }
  }
  return { blocks, unplannable };
}

export type Decoded = { point: ResolvedPoint; ok: true; value: PointValue } | { point: ResolvedPoint; ok: false; reason: string };

/** Every point of a block decoded from the block's response (registers or bits). */
export function decodeBlock(block: ReadBlock, data: readonly number[] | readonly boolean[]): Decoded[] {
  return block.points.map(({ point, offset, width }): Decoded => {
    if (data.length < offset + width) return { point, ok: false, reason: `response has ${data.length} ${isBitTable(block.table) ? 'bits' : 'registers'}, needed ${offset + width}` };
    if (isBitTable(block.table)) return { point, ok: true, value: Boolean(data[offset]) };
    return { point, ok: true, value: decodePoint(point, (data as readonly number[]).slice(offset, offset + width)) };
  });
}

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
