import { describe, expect, it } from 'vitest';
import { applyField, decodePoint, decodeRegisters, encodePoint, encodeRegisters, maskWriteMasks, writeOp } from '../src/adapters/modbus-codec.ts';
import { pointSchema, resolveOrder, type ModbusOrder, type RegisterType } from '../src/config/profile-schema.ts';
import { parseProfile } from '../src/config/profiles.ts';
import { ErrorCode, isRoomctlError } from '../src/errors.ts';
import type { ResolvedPoint } from '../src/model/devices.ts';

/**
 * Byte orders, 64-bit types, bit fields and write functions (issue 12, item 1), each
 * against register words worked out by hand from the IEEE 754 / two's-complement
 * bytes (A = most significant), never against the codec's own output.
 */
function point(def: Record<string, unknown>, profile: { order?: ModbusOrder; byte_order?: 'big' | 'little'; word_order?: 'big' | 'little' } = {}): ResolvedPoint {
  const parsed = pointSchema.parse({ stale_after_s: 30, ...def });
  return { id: 'dev.p', room: 'R1', device: 'dev', def: parsed, modbus: { ...parsed.modbus!, ...resolveOrder(parsed.modbus!, profile) } };
}
const split = (order: ModbusOrder) => resolveOrder({ order }, {});

function expectCode(fn: () => unknown, code: ErrorCode): string {
  try {
    fn();
  } catch (err) {
    expect(isRoomctlError(err, code), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a RoomctlError');
}

describe('the four byte orders', () => {
  // value → words on the wire for ABCD, BADC, CDAB, DCBA
  const cases: [RegisterType, number, Record<ModbusOrder, number[]>][] = [
    // -4.25 = 0xC0880000 (sign 1, exponent 129, mantissa .0001)
    ['float32', -4.25, { ABCD: [0xc088, 0x0000], BADC: [0x88c0, 0x0000], CDAB: [0x0000, 0xc088], DCBA: [0x0000, 0x88c0] }],
    ['uint32', 0x12345678, { ABCD: [0x1234, 0x5678], BADC: [0x3412, 0x7856], CDAB: [0x5678, 0x1234], DCBA: [0x7856, 0x3412] }],
    ['int32', -2, { ABCD: [0xffff, 0xfffe], BADC: [0xffff, 0xfeff], CDAB: [0xfffe, 0xffff], DCBA: [0xfeff, 0xffff] }],
    // a 16-bit value has one register: only the byte half of the order matters
    ['uint16', 0x1234, { ABCD: [0x1234], BADC: [0x3412], CDAB: [0x1234], DCBA: [0x3412] }],
    ['int16', -2, { ABCD: [0xfffe], BADC: [0xfeff], CDAB: [0xfffe], DCBA: [0xfeff] }],
    // 1.5 = 0x3FF8000000000000
    ['float64', 1.5, { ABCD: [0x3ff8, 0, 0, 0], BADC: [0xf83f, 0, 0, 0], CDAB: [0, 0, 0, 0x3ff8], DCBA: [0, 0, 0, 0xf83f] }],
    ['uint64', 0x0001_0002_0003_0004, { ABCD: [1, 2, 3, 4], BADC: [0x0100, 0x0200, 0x0300, 0x0400], CDAB: [4, 3, 2, 1], DCBA: [0x0400, 0x0300, 0x0200, 0x0100] }],
    ['int64', -2, { ABCD: [0xffff, 0xffff, 0xffff, 0xfffe], BADC: [0xffff, 0xffff, 0xffff, 0xfeff], CDAB: [0xfffe, 0xffff, 0xffff, 0xffff], DCBA: [0xfeff, 0xffff, 0xffff, 0xffff] }],
  ];
  for (const [type, value, wire] of cases)
    for (const order of ['ABCD', 'BADC', 'CDAB', 'DCBA'] as const)
      it(`lays out ${type} ${value} as ${order} and reads it back from those words`, () => {
        const { word_order, byte_order } = split(order);
        expect(encodeRegisters(value, type, word_order, byte_order)).toEqual(wire[order]);
        expect(decodeRegisters(wire[order], type, word_order, byte_order)).toBe(value);
      });

  it('reads the issue’s fully reversed float32 right only when the profile says DCBA, as a point of the whole profile', () => {
    const airflow = (profile: { order?: ModbusOrder }) => point({ type: 'number', modbus: { table: 'input', address: 0, type: 'float32' } }, profile);
    expect(decodePoint(airflow({ order: 'DCBA' }), [0x0000, 0x88c0])).toBe(-4.25);
    expect(decodePoint(airflow({}), [0x0000, 0x88c0])).not.toBe(-4.25);
    // the point's own order wins over the profile's
    expect(decodePoint(point({ type: 'number', modbus: { table: 'input', address: 0, type: 'float32', order: 'ABCD' } }, { order: 'DCBA' }), [0xc088, 0])).toBe(-4.25);
  });

  it('combines byte_order and word_order given separately, and the profile’s word_order with a point’s byte_order', () => {
    expect(resolveOrder({ byte_order: 'little' }, { word_order: 'little' })).toEqual({ byte_order: 'little', word_order: 'little' });
    expect(resolveOrder({}, { order: 'CDAB' })).toEqual({ byte_order: 'big', word_order: 'little' });
    expect(resolveOrder({ word_order: 'big' }, { order: 'DCBA' })).toEqual({ byte_order: 'little', word_order: 'big' });
  });

  it('writes a scaled int64 and refuses one that a JavaScript number cannot hold exactly', () => {
    const energy = point({ type: 'number', writable: true, modbus: { table: 'holding', address: 10, type: 'int64', scale: 0.001, order: 'CDAB' } });
    expect(encodePoint(energy, 5)).toEqual({ table: 'holding', address: 10, registers: [5000 & 0xffff, 0, 0, 0] });
    expect(writeOp(energy, 5).fc).toBe(16);
    expect(expectCode(() => encodeRegisters(2 ** 53, 'int64', 'big'), ErrorCode.PointValueInvalid)).toMatch(/does not fit int64 exactly/);
    expectCode(() => encodeRegisters(-1, 'uint64', 'big'), ErrorCode.PointValueInvalid);
  });
});

describe('bit fields of a register', () => {
  // 0xA005 = 1010 0000 0000 0101
  const status = (extra: Record<string, unknown>, type = 'boolean') => point({ type, writable: true, ...(type === 'enum' ? { values: ['off', 'low', 'high'] } : {}), modbus: { table: 'holding', address: 7, ...extra } });

  it('reads single bits and bit ranges from the register', () => {
    expect(decodePoint(status({ bit: 0 }), [0xa005])).toBe(true);
    expect(decodePoint(status({ bit: 1 }), [0xa005])).toBe(false);
    expect(decodePoint(status({ bit: 15 }), [0xa005])).toBe(true);
    expect(decodePoint(status({ bits: [12, 15] }, 'number'), [0xa005])).toBe(10);
    expect(decodePoint(status({ bits: [0, 3] }, 'number'), [0xa005])).toBe(5);
    expect(decodePoint(status({ bits: [0, 1], enum: { '0': 'off', '1': 'low', '2': 'high' } }, 'enum'), [0xa006])).toBe('high');
    // byte-swapped register: 0x05A0 on the wire is 0xA005
    expect(decodePoint(status({ bit: 15, byte_order: 'little' }), [0x05a0])).toBe(true);
    expect(decodePoint(status({ bits: [12, 15], byte_order: 'little' }, 'number'), [0x05a0])).toBe(10);
  });

  it('changes only the point’s bits and leaves the others as the unit had them', () => {
    const b3 = encodePoint(status({ bit: 3 }), true);
    expect(b3).toEqual({ table: 'holding', address: 7, mask: 0x0008, bits: 0x0008 });
    expect(applyField(0xa005, b3 as { mask: number; bits: number })).toBe(0xa00d);
    const off = encodePoint(status({ bit: 15 }), false) as { mask: number; bits: number };
    expect(applyField(0xa005, off)).toBe(0x2005);
    const field = encodePoint(status({ bits: [4, 7] }, 'number'), 9) as { mask: number; bits: number };
    expect(field).toMatchObject({ mask: 0x00f0, bits: 0x0090 });
    expect(applyField(0xa005, field)).toBe(0xa095);
    // FC22 computes (current AND and) OR (or AND NOT and) in the unit
    expect(maskWriteMasks(field)).toEqual({ and: 0xff0f, or: 0x0090 });
    // the same field of a byte-swapped register: masks in wire order
    expect(encodePoint(status({ bits: [4, 7], byte_order: 'little' }, 'number'), 9)).toMatchObject({ mask: 0xf000, bits: 0x9000 });
    expect(expectCode(() => encodePoint(status({ bits: [4, 7] }, 'number'), 16), ErrorCode.PointValueInvalid)).toMatch(/does not fit bits 4\.\.7 .*\(0\.\.15\)/);
  });
});

describe('write functions', () => {
  const reg = (modbus: Record<string, unknown>, type = 'number') => point({ type, writable: true, modbus: { table: 'holding', address: 3, ...modbus } });

  it('uses 5 for coils, 6 for one register or a bit field and 16 for wider values unless the profile says otherwise', () => {
    expect(writeOp(point({ type: 'boolean', writable: true, modbus: { table: 'coil', address: 2 } }), true).fc).toBe(5);
    expect(writeOp(point({ type: 'boolean', writable: true, modbus: { table: 'coil', address: 2, write_function: 15 } }), true)).toEqual({ table: 'coil', address: 2, bit: true, fc: 15 });
    expect(writeOp(reg({}), 215).fc).toBe(6);
    expect(writeOp(reg({ write_function: 16 }), 215)).toEqual({ table: 'holding', address: 3, registers: [215], fc: 16 });
    expect(writeOp(reg({ type: 'float32' }), 1).fc).toBe(16);
    expect(writeOp(reg({ bit: 2 }, 'boolean'), true).fc).toBe(6);
    expect(writeOp(reg({ bit: 2, write_function: 22 }, 'boolean'), true)).toEqual({ table: 'holding', address: 3, mask: 4, bits: 4, fc: 22 });
  });
});

describe('profile errors say where and why', () => {
  const profile = (points: string, extra = '') =>
    parseProfile(`id: fcu-x\nname: X\nkind: hvac\nprotocol: modbus\n${extra}points:\n${points}`);
  const errors = (points: string, extra = '') => {
    const r = profile(points, extra);
    return r.ok ? [] : r.errors;
  };
  const sp = (modbus: string, more = 'writable: true, ') => `  setpoint: { type: number, ${more}stale_after_s: 30, modbus: { table: holding, address: 0, ${modbus} } }\n`;

  it('refuses contradictory orders, misplaced bits and write functions that cannot work', () => {
    expect(errors(sp('type: float32, order: CDAB, word_order: big'))).toContain('points.setpoint.modbus.order: give either order or byte_order/word_order, not both');
    expect(errors(sp('order: BACD'))).toEqual([expect.stringMatching(/^points\.setpoint\.modbus\.order: expected one of "ABCD", "BADC", "CDAB", "DCBA"/)]);
    expect(errors(sp('type: float32, write_function: 6'))).toContain('points.setpoint.modbus.write_function: 6 writes one register and a float32 spans 2: use 16');
    expect(errors(sp('write_function: 22'))).toContain('points.setpoint.modbus.write_function: 22 (mask write) changes some bits of a register: give the point a bit or bits');
    expect(errors(sp('write_function: 5'))).toContain('points.setpoint.modbus.write_function: a holding register is written with 6, 16 or (bit fields) 22, not 5');
    expect(errors(sp('write_function: 16', ''))).toContain('points.setpoint.modbus.write_function: the point is not writable (writable: true is missing)');
    expect(errors(sp('type: int32, bit: 3'))).toContain('points.setpoint.modbus.type: a bit field is part of one 16-bit register: type must be uint16, got int32');
    expect(errors(sp('bits: [7, 4]'))).toContain('points.setpoint.modbus.bits: bits [7, 4]: from must not be above to');
    expect(errors(sp('bit: 16'))).toContainEqual(expect.stringMatching(/^points\.setpoint\.modbus\.bit: /));
    expect(errors(sp('bit: 1'))).toContain('points.setpoint.type: a bit point is boolean (or an enum of 0/1), not number');
  });

  it('refuses a write that would clobber another point, no_read over a point and points outside declared blocks', () => {
    const two = sp('type: uint32') + '  mode: { type: number, writable: true, stale_after_s: 30, modbus: { table: holding, address: 1 } }\n';
    expect(errors(two)).toContain('points.mode.modbus.address: holding 1 overlaps point setpoint: writing one would change the other');
    const bitsApart = (second: string) =>
      errors(
        sp('') +
          '  alarm: { type: boolean, writable: true, stale_after_s: 30, modbus: { table: holding, address: 5, bit: 0 } }\n' +
          `  level: { type: number, writable: true, stale_after_s: 30, modbus: { table: holding, address: 5, bits: ${second} } }\n`,
      );
    expect(bitsApart('[1, 3]')).toEqual([]);
    expect(bitsApart('[0, 3]')).toContain('points.level.modbus.address: holding 5 overlaps point alarm: writing one would change the other');
    expect(errors(sp(''), 'modbus: { no_read: { holding: [[0, 2]] } }\n')).toContain('points.setpoint.modbus.address: holding 0 is listed in modbus.no_read, so this point could never be read');
    expect(errors(sp(''), 'modbus: { blocks: [{ table: holding, address: 10, count: 4 }] }\n')).toContain('points.setpoint.modbus.address: holding 0 is in none of the modbus.blocks declared for holding');
    expect(errors(sp(''), 'modbus: { blocks: [{ table: holding, address: 0, count: 126 }] }\n')).toContain('modbus.blocks[0].count: one read of holding takes at most 125, got 126');
    expect(errors(sp(''), 'modbus: { blocks: [{ table: holding, address: 0, count: 4 }], no_read: { holding: [3] } }\n')).toContain('modbus.blocks[0]: covers holding 3, which modbus.no_read says the unit refuses');
    expect(errors(sp(''), 'order: CDAB\nword_order: big\n')).toContain('order: give either order or byte_order/word_order, not both');
  });
});
