import type { ModbusReadLayout } from '../config/profile-schema.ts';
import type { ResolvedPoint } from '../model/devices.ts';
import type { PointValue } from '../model/points.ts';
import { decodePoint, isBitTable, pointWidth, type ModbusTable } from './modbus-codec.ts';

/**
 * Read planning: which requests read a device's points. Pure, so every coalescing
 * rule is tested without a socket.
 *
 * Neighbours join one read while the unused gap between them is at most the bridge
 * (the profile's `modbus.max_gap`, else the adapter's, else 10) and the read stays
 * within the protocol's limit; a read never covers an address the profile lists as
 * `no_read`; a table with declared `blocks` is read exactly through them. When a
 * unit still refuses a read that spans gaps (exception 2/3 on a register nobody
 * asked for), splitRefusedBlock() gives the reads that skip those gaps.
 */

/** Protocol ceilings for one read (Modbus application protocol 1.1b3, FC1-4). */
export const MAX_READ_REGISTERS = 125;
export const MAX_READ_BITS = 2000;
/** Unused registers a read may span to save a request (per-request overhead ≈ 10 registers of payload). */
export const DEFAULT_GAP_BRIDGE = 10;

export interface PlannedPoint {
  point: ResolvedPoint;
  /** Position of the point's first register (or bit) in the block. */
  offset: number;
  width: 1 | 2 | 4;
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
  /** The profile's `modbus:` section (max_gap wins over gapBridge). */
  layout?: ModbusReadLayout;
}

const TABLE_ORDER: ModbusTable[] = ['input', 'holding', 'coil', 'discrete'];

export function planReads(points: readonly ResolvedPoint[], options: PlanOptions = {}): ReadPlan {
  const gap = Math.max(0, options.layout?.max_gap ?? options.gapBridge ?? DEFAULT_GAP_BRIDGE);
  const blocks: ReadBlock[] = [];
  const unplannable: ReadPlan['unplannable'] = [];
  for (const table of TABLE_ORDER) {
    const bits = isBitTable(table);
    const limit = bits ? (options.maxBits ?? MAX_READ_BITS) : (options.maxRegisters ?? MAX_READ_REGISTERS);
    const refused = refusedAddresses(options.layout, table);
    const spans: { point: ResolvedPoint; start: number; width: 1 | 2 | 4 }[] = [];
    for (const point of points) {
      const map = point.modbus;
      if (!map || map.table !== table) continue;
      const width = pointWidth(map);
      if (map.address + width - 1 > 0xffff) unplannable.push({ point, reason: `${table} ${map.address} + ${width} registers runs past address 65535` });
      else spans.push({ point, start: map.address, width });
    }
    spans.sort((a, b) => a.start - b.start || b.width - a.width);
    const declared = options.layout?.blocks?.filter((b) => b.table === table);
    if (declared?.length) {
      // The vendor's own reads: each point goes to the first declared block that holds it whole.
      const fixed = declared.map((b) => ({ table, address: b.address, count: b.count, points: [] as PlannedPoint[] }));
      for (const s of spans) {
        const home = fixed.find((b) => s.start >= b.address && s.start + s.width <= b.address + b.count);
        if (home) home.points.push({ point: s.point, offset: s.start - home.address, width: s.width });
        else unplannable.push({ point: s.point, reason: `${table} ${s.start} is in none of the profile's declared blocks` });
      }
      blocks.push(...fixed.filter((b) => b.points.length > 0));
      continue;
    }
    const bridge = bits ? gap * 16 : gap;
    let block: ReadBlock | undefined;
    for (const s of spans) {
      const end = s.start + s.width - 1;
      if (block) {
        const blockEnd = block.address + block.count - 1;
        const newEnd = Math.max(blockEnd, end);
        const joinable = s.start - blockEnd - 1 <= bridge && newEnd - block.address + 1 <= limit && !anyIn(refused, blockEnd + 1, s.start - 1);
        if (joinable) {
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

/**
 * The reads that replace a block the unit refused: its runs of adjacent points, no
 * gap bridged; undefined when the block has no gap (nothing smaller would help).
 */
export function splitRefusedBlock(block: ReadBlock): ReadBlock[] | undefined {
  const runs: ReadBlock[] = [];
  for (const p of [...block.points].sort((a, b) => a.offset - b.offset)) {
    const last = runs.at(-1);
    const start = block.address + p.offset;
    if (last && start <= last.address + last.count) {
      last.count = Math.max(last.count, start + p.width - last.address);
      last.points.push({ ...p, offset: start - last.address });
    } else runs.push({ table: block.table, address: start, count: p.width, points: [{ ...p, offset: 0 }] });
  }
  // Contiguous already: the refused register is under a point, so the profile is wrong for it, and
  // reading each point alone would only multiply the refusals. The block's points go stale, reported.
  return runs.length > 1 ? runs : undefined;
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

/** The first block of a plan that reads a point (a write's read-back). */
export function blockOf(plan: ReadPlan, point: ResolvedPoint): ReadBlock | undefined {
  return plan.blocks.find((b) => b.points.some((p) => p.point === point || p.point.id === point.id));
}

function refusedAddresses(layout: ModbusReadLayout | undefined, table: ModbusTable): [number, number][] {
  return (layout?.no_read?.[table] ?? []).map((e) => (typeof e === 'number' ? [e, e] : [e[0], e[1]]));
}

const anyIn = (ranges: [number, number][], from: number, to: number) => from <= to && ranges.some(([a, b]) => a <= to && b >= from);
