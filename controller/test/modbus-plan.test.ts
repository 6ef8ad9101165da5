import { describe, expect, it } from 'vitest';
import { blockOf, planReads, splitRefusedBlock } from '../src/adapters/modbus-plan.ts';
import { modbusReadSchema, pointSchema, resolveOrder, type ModbusReadLayout } from '../src/config/profile-schema.ts';
import type { ResolvedPoint } from '../src/model/devices.ts';

/** Read plans with a profile's max_gap, no_read and declared blocks, and the split of a refused read (issue 12, items 1 and 4). */
function reg(name: string, table: 'holding' | 'input', address: number, extra: Record<string, unknown> = {}): ResolvedPoint {
  const def = pointSchema.parse({ type: extra.bit !== undefined ? 'boolean' : 'number', stale_after_s: 30, modbus: { table, address, ...extra } });
  return { id: `dev.${name}`, room: 'R1', device: 'dev', def, modbus: { ...def.modbus!, ...resolveOrder(def.modbus!, {}) } };
}
const layout = (l: unknown): ModbusReadLayout => modbusReadSchema.parse(l);
const shape = (points: ResolvedPoint[], l?: unknown, gapBridge?: number) =>
  planReads(points, { layout: l ? layout(l) : undefined, gapBridge }).blocks.map((b) => `${b.table} ${b.address}+${b.count}`);

describe('read plans from a profile’s layout', () => {
  const points = [reg('a', 'holding', 0), reg('b', 'holding', 1), reg('c', 'holding', 6, { type: 'float32' }), reg('d', 'holding', 20)];

  it('uses the profile’s max_gap over the adapter’s bridge', () => {
    expect(shape(points)).toEqual(['holding 0+8', 'holding 20+1']);
    expect(shape(points, { max_gap: 0 }, 50)).toEqual(['holding 0+2', 'holding 6+2', 'holding 20+1']);
    expect(shape(points, { max_gap: 12 })).toEqual(['holding 0+21']);
  });

  it('never reads across an address listed as no_read, whatever the gap', () => {
    expect(shape(points, { no_read: { holding: [4] } })).toEqual(['holding 0+2', 'holding 6+2', 'holding 20+1']);
    expect(shape(points, { max_gap: 20, no_read: { holding: [[10, 12]] } })).toEqual(['holding 0+8', 'holding 20+1']);
    // another table's no_read changes nothing here
    expect(shape(points, { no_read: { input: [4] } })).toEqual(['holding 0+8', 'holding 20+1']);
  });

  it('reads a table with declared blocks through exactly those blocks, and reports a point outside them', () => {
    const plan = planReads([...points, reg('t', 'input', 3)], { layout: layout({ blocks: [{ table: 'holding', address: 0, count: 10 }, { table: 'holding', address: 16, count: 8 }] }) });
    expect(plan.blocks.map((b) => `${b.table} ${b.address}+${b.count}`)).toEqual(['input 3+1', 'holding 0+10', 'holding 16+8']);
    expect(plan.blocks[2]!.points.map((p) => [p.point.id, p.offset])).toEqual([['dev.d', 4]]);
    const outside = planReads([reg('far', 'holding', 40)], { layout: layout({ blocks: [{ table: 'holding', address: 0, count: 10 }] }) });
    expect(outside.blocks).toEqual([]);
    expect(outside.unplannable.map((u) => u.reason)).toEqual(["holding 40 is in none of the profile's declared blocks"]);
  });

  it('puts bit fields of one register into the same read as the whole-register points around them', () => {
    const status = [reg('run', 'input', 2, { bit: 0 }), reg('fault', 'input', 2, { bit: 7 }), reg('level', 'input', 2, { bits: [8, 11] }), reg('temp', 'input', 3)];
    const plan = planReads(status);
    expect(plan.blocks.map((b) => `${b.address}+${b.count}`)).toEqual(['2+2']);
    expect(blockOf(plan, status[1]!)).toBe(plan.blocks[0]);
  });
});

describe('a read the unit refused', () => {
  it('is split at its gaps into runs of adjacent points', () => {
    const [block] = planReads([reg('a', 'holding', 0), reg('b', 'holding', 1), reg('c', 'holding', 6, { type: 'uint32' }), reg('d', 'holding', 9)]).blocks;
    expect(`${block!.address}+${block!.count}`).toBe('0+10');
    const parts = splitRefusedBlock(block!)!;
    expect(parts.map((b) => `${b.address}+${b.count}:${b.points.map((p) => `${p.point.id}@${p.offset}`).join(',')}`)).toEqual([
      '0+2:dev.a@0,dev.b@1',
      '6+2:dev.c@0',
      '9+1:dev.d@0',
    ]);
  });

  it('is left whole when it has no gap: the refused register is under a point, and the profile must say so', () => {
    const [block] = planReads([reg('a', 'holding', 0), reg('b', 'holding', 1)]).blocks;
    expect(splitRefusedBlock(block!)).toBeUndefined();
  });
});
