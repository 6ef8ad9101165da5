import { describe, expect, it } from 'vitest';
import { decodePoint, decodeRegisters, encodePoint, encodeRegisters, type RegisterType, type WordOrder } from '../src/adapters/modbus-codec.ts';
import { decodeBlock, planReads } from '../src/adapters/modbus-plan.ts';
import { pointSchema } from '../src/config/profile-schema.ts';
import { ErrorCode, isRoomctlError } from '../src/errors.ts';
import type { ResolvedPoint } from '../src/model/devices.ts';

/** A resolved point as the config loader builds it, from the same schema the profiles use. */
function point(key: string, def: Record<string, unknown>, wordOrder: WordOrder = 'big'): ResolvedPoint {
  const parsed = pointSchema.parse({ stale_after_s: 30, ...def });
  return { id: `dev.${key}`, room: 'R1', device: 'dev', def: parsed, modbus: { ...parsed.modbus!, word_order: parsed.modbus!.word_order ?? wordOrder } };
}

const reg = (key: string, table: 'holding' | 'input', address: number, type: RegisterType = 'uint16', extra: Record<string, unknown> = {}) =>
  point(key, { type: 'number', writable: table === 'holding', modbus: { table, address, type, ...extra } });
const bit = (key: string, table: 'coil' | 'discrete', address: number) => point(key, { type: 'boolean', writable: table === 'coil', modbus: { table, address } });

function expectCode(fn: () => unknown, code: ErrorCode) {
  try {
    fn();
  } catch (err) {
    expect(isRoomctlError(err, code)).toBe(true);
    return;
  }
  throw new Error('expected a RoomctlError');
}

describe('register types and word orders', () => {
  const samples: Record<RegisterType, number[]> = {
    int16: [-32768, -1, 0, 1, 215, 32767],
    uint16: [0, 1, 40000, 65535],
    int32: [-2147483648, -70000, -1, 0, 65536, 2147483647],
    uint32: [0, 1, 65535, 65536, 123456789, 4294967295],
    float32: [0, -1.5, 21.3, 1234.5, 3.4028234663852886e38, -1e-20],
    int64: [-(2 ** 53) + 1, -70000, -1, 0, 2 ** 40 + 7, 2 ** 53 - 1],
    uint64: [0, 1, 2 ** 32, 2 ** 53 - 1],
    float64: [0, -1.5, 21.3, 1e300, -5e-324],
  };

  for (const [type, values] of Object.entries(samples) as [RegisterType, number[]][])
    for (const order of ['big', 'little'] as const)
      it(`round-trips every sample ${type} value with ${order}-endian word order`, () => {
        for (const v of values) {
          const words = encodeRegisters(v, type, order);
          expect(words.length).toBe(type.endsWith('16') ? 1 : type.endsWith('64') ? 4 : 2);
          for (const w of words) expect(w >= 0 && w <= 0xffff && Number.isInteger(w)).toBe(true);
          expect(decodeRegisters(words, type, order)).toBe(type === 'float32' ? Math.fround(v) : v);
        }
      });

  it('puts the high word first for big word order and last for little word order', () => {
    expect(encodeRegisters(0x12345678, 'uint32', 'big')).toEqual([0x1234, 0x5678]);
    expect(encodeRegisters(0x12345678, 'uint32', 'little')).toEqual([0x5678, 0x1234]);
    expect(decodeRegisters([0xffff, 0xfffe], 'int32', 'big')).toBe(-2);
    expect(decodeRegisters([0xfffe, 0xffff], 'int32', 'little')).toBe(-2);
    expect(encodeRegisters(1.0, 'float32', 'big')).toEqual([0x3f80, 0x0000]);
  });

  it('refuses a value that does not fit its register type instead of wrapping it', () => {
    for (const [raw, type] of [[32768, 'int16'], [-1, 'uint16'], [65536, 'uint16'], [2 ** 31, 'int32'], [-1, 'uint32'], [1.5, 'int16'], [Infinity, 'float32'], [1e39, 'float32'], [NaN, 'uint16']] as const)
      expectCode(() => encodeRegisters(raw, type, 'big'), ErrorCode.PointValueInvalid);
  });
});

describe('point values', () => {
  it('applies scale and offset on reads without floating-point noise', () => {
    expect(decodePoint(reg('t', 'input', 0, 'int16', { scale: 0.1 }), [215])).toBe(21.5);
    expect(decodePoint(reg('t', 'input', 0, 'int16', { scale: 0.1 }), [3])).toBe(0.3);
    expect(decodePoint(reg('t', 'input', 0, 'int16', { scale: 0.1 }), [0xff9c])).toBe(-10);
    expect(decodePoint(reg('t', 'input', 0, 'uint16', { scale: 0.5, offset: -40 }), [101])).toBe(10.5);
    expect(decodePoint(reg('t', 'input', 0, 'uint16', { scale: 0.01 }), [2137])).toBe(21.37);
    expect(decodePoint(reg('f', 'input', 0, 'float32'), encodeRegisters(21.3, 'float32', 'big'))).toBe(21.3);
  });

  it('inverts scale and offset on writes and rounds to the nearest raw step', () => {
    expect(encodePoint(reg('sp', 'holding', 4, 'int16', { scale: 0.1 }), 21.5)).toEqual({ table: 'holding', address: 4, registers: [215] });
    expect(encodePoint(reg('sp', 'holding', 4, 'int16', { scale: 0.1 }), 21.46)).toEqual({ table: 'holding', address: 4, registers: [215] });
    expect(encodePoint(reg('sp', 'holding', 4, 'int16', { scale: 0.1 }), -10)).toEqual({ table: 'holding', address: 4, registers: [0xff9c] });
    expect(encodePoint(reg('x', 'holding', 0, 'uint16', { scale: 0.5, offset: -40 }), 10.5)).toEqual({ table: 'holding', address: 0, registers: [101] });
    expect(encodePoint(reg('x', 'holding', 0, 'int32', { word_order: 'little' }), -70000)).toEqual({ table: 'holding', address: 0, registers: encodeRegisters(-70000, 'int32', 'little') });
  });

  it('refuses to encode a scaled value that does not fit the register', () => {
    expectCode(() => encodePoint(reg('sp', 'holding', 0, 'int16', { scale: 0.1 }), 4000), ErrorCode.PointValueInvalid);
    expectCode(() => encodePoint(reg('v', 'holding', 0, 'uint16'), -1), ErrorCode.PointValueInvalid);
    expectCode(() => encodePoint(reg('v', 'holding', 0, 'uint16'), 'high'), ErrorCode.PointValueInvalid);
  });

  it('maps enum raw values to names and back, and passes an unknown raw value through for checkReading to reject', () => {
    const mode = point('mode', { type: 'enum', values: ['auto', 'cool', 'heat'], writable: true, modbus: { table: 'holding', address: 1, enum: { '0': 'auto', '1': 'cool', '2': 'heat' } } });
    expect(decodePoint(mode, [1])).toBe('cool');
    expect(decodePoint(mode, [7])).toBe(7);
    expect(encodePoint(mode, 'heat')).toEqual({ table: 'holding', address: 1, registers: [2] });
    expectCode(() => encodePoint(mode, 'dry'), ErrorCode.PointValueInvalid);
  });

  it('reads and writes coils as booleans and refuses writes to read-only tables', () => {
    expect(encodePoint(bit('power', 'coil', 3), true)).toEqual({ table: 'coil', address: 3, bit: true });
    expectCode(() => encodePoint(bit('power', 'coil', 3), 1), ErrorCode.PointValueInvalid);
    expectCode(() => encodePoint(bit('fault', 'discrete', 0), true), ErrorCode.PointNotWritable);
    expectCode(() => encodePoint(reg('t', 'input', 0), 1), ErrorCode.PointNotWritable);
    const flag = point('flag', { type: 'boolean', writable: true, modbus: { table: 'holding', address: 9 } });
    expect(encodePoint(flag, true)).toEqual({ table: 'holding', address: 9, registers: [1] });
    expect(decodePoint(flag, [1])).toBe(1);
  });
});

describe('read plans', () => {
  const shape = (points: ResolvedPoint[], gapBridge?: number) => planReads(points, { gapBridge }).blocks.map((b) => `${b.table} ${b.address}+${b.count}`);

  it('reads contiguous registers of one table in a single request and keeps tables apart', () => {
    const points = [reg('a', 'input', 0, 'int16'), reg('b', 'input', 1), reg('c', 'input', 2, 'uint32'), reg('d', 'holding', 0), reg('e', 'holding', 1), bit('f', 'coil', 0), bit('g', 'discrete', 0)];
    expect(shape(points)).toEqual(['input 0+4', 'holding 0+2', 'coil 0+1', 'discrete 0+1']);
  });

  it('bridges a small gap and splits at a gap larger than the configured bridge', () => {
    const points = [reg('a', 'holding', 0), reg('b', 'holding', 11), reg('c', 'holding', 40)];
    expect(shape(points)).toEqual(['holding 0+12', 'holding 40+1']);
    expect(shape(points, 0)).toEqual(['holding 0+1', 'holding 11+1', 'holding 40+1']);
    expect(shape(points, 28)).toEqual(['holding 0+41']);
  });

  it('never reads more than 125 registers or 2000 bits in one request', () => {
    const regs = Array.from({ length: 300 }, (_, i) => reg(`r${i}`, 'input', i));
    const blocks = planReads(regs).blocks;
    expect(blocks.map((b) => b.count)).toEqual([125, 125, 50]);
    const bits = Array.from({ length: 4500 }, (_, i) => bit(`b${i}`, 'coil', i));
    expect(planReads(bits).blocks.map((b) => b.count)).toEqual([2000, 2000, 500]);
  });

  it('keeps both registers of a 32-bit value in the same request at the 125-register boundary', () => {
    const points = [reg('a', 'input', 0), reg('b', 'input', 124, 'float32')];
    expect(shape(points, 200)).toEqual(['input 0+1', 'input 124+2']);
    const straddle = [...Array.from({ length: 124 }, (_, i) => reg(`r${i}`, 'input', i)), reg('wide', 'input', 124, 'uint32')];
    expect(shape(straddle)).toEqual(['input 0+124', 'input 124+2']);
  });

  it('bridges larger gaps of bits than of registers, since sixteen bits cost one register', () => {
    expect(shape([bit('a', 'discrete', 0), bit('b', 'discrete', 150)])).toEqual(['discrete 0+151']);
    expect(shape([bit('a', 'discrete', 0), bit('b', 'discrete', 300)])).toEqual(['discrete 0+1', 'discrete 300+1']);
  });

  it('reports a 32-bit point that would run past register 65535 instead of reading it', () => {
    const plan = planReads([reg('edge', 'holding', 65535, 'int32'), reg('ok', 'holding', 65535)]);
    expect(plan.blocks.map((b) => `${b.address}+${b.count}`)).toEqual(['65535+1']);
    expect(plan.unplannable.map((u) => u.point.id)).toEqual(['dev.edge']);
  });

  it('decodes every point of a block from the response, including overlapping points', () => {
    const points = [reg('lo', 'holding', 0), reg('both', 'holding', 0, 'uint32'), reg('hi', 'holding', 1), reg('s', 'holding', 3, 'int16', { scale: 0.1 })];
    const [block] = planReads(points).blocks;
    const decoded = decodeBlock(block!, [0x0001, 0x0002, 0, 0xfff6]);
    expect(Object.fromEntries(decoded.map((d) => [d.point.id, d.ok ? d.value : d.reason]))).toEqual({ 'dev.lo': 1, 'dev.both': 0x00010002, 'dev.hi': 2, 'dev.s': -1 });
    const short = decodeBlock(block!, [1]);
    expect(short.filter((d) => !d.ok).length).toBe(3);
  });
});
