import type { ResolvedPoint } from '../../controller/src/model/devices.ts';
import type { PointValue } from '../../controller/src/model/points.ts';
import { pointKey, type SimDevice } from './sim-device.ts';

/**
 * A Modbus unit's register tables, built from its profile's point mappings
 * (table, address, type, scale, offset, byte and word order, bits, enum) rather than from a
 * hand-written layout, so the simulator answers exactly what the profile
 * promises. Reads encode the model's current value; writes decode into a model
 * command. Problems are Modbus exception codes, as a real unit answers.
 */
export type Table = 'holding' | 'input' | 'coil' | 'discrete';

export const ILLEGAL_DATA_ADDRESS = 0x02;
export const ILLEGAL_DATA_VALUE = 0x03;
export const SERVER_DEVICE_FAILURE = 0x04;

export class ModbusException extends Error {
  constructor(readonly modbusErrorCode: number, message: string) {
    super(message);
  }
}

interface Slot {
  point: ResolvedPoint;
  key: string;
  /** Index of this register within the point (0..3 for 32/64-bit types). */
  word: number;
  /** A bit field of the register: which bits, counted in the register's own (byte-order corrected) value. */
  field?: { from: number; mask: number };
}

const WIDTH: Record<string, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4 };
const swap16 = (w: number) => ((w & 0xff) << 8) | ((w >> 8) & 0xff);

function fieldOf(m: NonNullable<ResolvedPoint['modbus']>): Slot['field'] {
  if (m.bit !== undefined) return { from: m.bit, mask: 1 << m.bit };
  if (m.bits) return { from: m.bits[0], mask: ((1 << (m.bits[1] - m.bits[0] + 1)) - 1) << m.bits[0] };
  return undefined;
}

export class RegisterMap {
  /** Several slots share an address where points are bits of one register. */
  private slots: Record<Table, Map<number, Slot[]>> = { holding: new Map(), input: new Map(), coil: new Map(), discrete: new Map() };

  constructor(
    private model: SimDevice,
    /** Called after the model took a write (the building records and republishes). */
    private onWrite: () => void = () => {},
  ) {
    for (const point of model.device.points) {
      const m = point.modbus;
      if (!m) continue;
      const field = fieldOf(m);
      const n = m.table === 'coil' || m.table === 'discrete' || field ? 1 : (WIDTH[m.type] ?? 1);
      for (let w = 0; w < n; w++) {
        const at = this.slots[m.table].get(m.address + w) ?? [];
        at.push({ point, key: pointKey(model.device, point.id), word: w, field });
        this.slots[m.table].set(m.address + w, at);
      }
    }
  }

  readWord(table: 'holding' | 'input', address: number): number {
    const slots = this.slotsAt(table, address);
    const whole = slots.find((s) => !s.field);
    if (whole) return this.encode(whole.point, this.model.read(whole.key))[whole.word]!;
    // A register of bit fields: each point's bits in place, then the register's byte order.
    let word = 0;
    for (const s of slots) word |= (this.rawOf(s.point, this.model.read(s.key)) << s.field!.from) & s.field!.mask;
    return slots[0]!.point.modbus!.byte_order === 'little' ? swap16(word) : word;
  }

  readBit(table: 'coil' | 'discrete', address: number): boolean {
    const [slot] = this.slotsAt(table, address);
    return this.model.read(slot!.key) === true;
  }

  writeBit(address: number, value: boolean): void {
    const [slot] = this.slotsAt('coil', address);
    if (!this.model.write(slot!.key, value)) throw new ModbusException(SERVER_DEVICE_FAILURE, `unit refused ${slot!.key}`);
    this.onWrite();
  }

  /** FC6/FC16: words starting at an address; a 32-bit point may be written half at a time, a bit field with its register. */
  writeWords(address: number, words: number[]): void {
    const pending = new Map<string, { point: ResolvedPoint; key: string; raw: number[] }>();
    const fields: { key: string; value: PointValue }[] = [];
    words.forEach((word, i) => {
      for (const slot of this.slotsAt('holding', address + i)) {
        if (slot.field) {
          // Only the fields a write changed: the other bits come back as they were read (read-only ones included).
          const logical = slot.point.modbus!.byte_order === 'little' ? swap16(word & 0xffff) : word & 0xffff;
          const value = this.decodeRaw(slot.point, (logical & slot.field.mask) >>> slot.field.from);
          if (value !== this.model.read(slot.key)) fields.push({ key: slot.key, value });
          continue;
        }
        let entry = pending.get(slot.key);
        if (!entry) {
          entry = { point: slot.point, key: slot.key, raw: this.encode(slot.point, this.model.read(slot.key)) };
          pending.set(slot.key, entry);
        }
        entry.raw[slot.word] = word & 0xffff;
      }
    });
    // Decode everything first: a request with one bad value changes nothing.
    const decoded = [...[...pending.values()].map(({ point, key, raw }) => ({ key, value: this.decode(point, raw) })), ...fields];
    for (const { key, value } of decoded) if (!this.model.write(key, value)) throw new ModbusException(SERVER_DEVICE_FAILURE, `unit refused ${key}`);
    this.onWrite();
  }

  private slotsAt(table: Table, address: number): Slot[] {
    const slots = this.slots[table].get(address);
    if (!slots?.length) throw new ModbusException(ILLEGAL_DATA_ADDRESS, `no ${table} register ${address}`);
    return slots;
  }

  /** A point value as its raw register number (before scale inversion is rounded or ordered). */
  private rawOf(point: ResolvedPoint, value: PointValue | undefined): number {
    const m = point.modbus!;
    if (value === undefined) return 0;
    if (point.def.type === 'enum') {
      const entry = Object.entries(m.enum ?? {}).find(([, v]) => v === value);
      return entry ? Number(entry[0]) : 0;
    }
    if (typeof value === 'boolean') return value ? 1 : 0;
    return Math.round((Number(value) - m.offset) / m.scale);
  }

  /** Point value → register words (in the wire's word and byte order). */
  encode(point: ResolvedPoint, value: PointValue | undefined): number[] {
    const m = point.modbus!;
    const raw = m.type.startsWith('float') && typeof value === 'number' ? (value - m.offset) / m.scale : this.rawOf(point, value);
    return toWire(toWords(m.type, raw), m.word_order, m.byte_order);
  }

  decode(point: ResolvedPoint, wire: number[]): PointValue {
    const m = point.modbus!;
    return this.decodeRaw(point, fromWords(m.type, toWire(wire, m.word_order, m.byte_order)));
  }

  private decodeRaw(point: ResolvedPoint, raw: number): PointValue {
    const m = point.modbus!;
    if (point.def.type === 'enum') {
      const value = m.enum?.[String(raw)];
      if (value === undefined) throw new ModbusException(ILLEGAL_DATA_VALUE, `${raw} is not a value of ${point.id}`);
      return value;
    }
    if (point.def.type === 'boolean') return raw !== 0;
    const value = Math.round((raw * m.scale + m.offset) * 1e6) / 1e6;
    if ((point.def.min !== undefined && value < point.def.min) || (point.def.max !== undefined && value > point.def.max))
      throw new ModbusException(ILLEGAL_DATA_VALUE, `${value} is outside ${point.id}'s range`);
    return value;
  }
}

/** Big-endian words ↔ the wire: registers reversed for little word order, bytes swapped for little byte order (its own inverse). */
function toWire(words: number[], wordOrder: string | undefined, byteOrder: string | undefined): number[] {
  const ws = wordOrder === 'little' ? [...words].reverse() : [...words];
  return byteOrder === 'little' ? ws.map(swap16) : ws;
}

function toWords(type: string, raw: number): number[] {
  switch (type) {
    case 'int16':
      return [Math.max(-32768, Math.min(32767, Math.round(raw))) & 0xffff];
    case 'uint16':
      return [Math.max(0, Math.min(65535, Math.round(raw)))];
    case 'int32':
    case 'uint32': {
      const v = type === 'int32' ? Math.max(-2147483648, Math.min(2147483647, Math.round(raw))) : Math.max(0, Math.min(4294967295, Math.round(raw)));
      const u = v >>> 0;
      return [u >>> 16, u & 0xffff];
    }
    case 'float32': {
      const b = Buffer.alloc(4);
      b.writeFloatBE(raw);
      return [b.readUInt16BE(0), b.readUInt16BE(2)];
    }
    case 'int64':
    case 'uint64':
    case 'float64': {
      const b = Buffer.alloc(8);
      if (type === 'float64') b.writeDoubleBE(raw);
      else if (type === 'int64') b.writeBigInt64BE(BigInt(Math.round(raw)));
      else b.writeBigUInt64BE(BigInt(Math.max(0, Math.round(raw))));
      return [0, 2, 4, 6].map((o) => b.readUInt16BE(o));
    }
    default:
      throw new Error(`unknown register type ${type}`);
  }
}

function fromWords(type: string, words: number[]): number {
  switch (type) {
    case 'int16':
      return words[0]! >= 0x8000 ? words[0]! - 0x10000 : words[0]!;
    case 'uint16':
      return words[0]!;
    case 'int32':
      return ((words[0]! << 16) | words[1]!) >> 0;
    case 'uint32':
      return ((words[0]! << 16) | words[1]!) >>> 0;
    case 'float32': {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(words[0]!, 0);
      b.writeUInt16BE(words[1]!, 2);
      return b.readFloatBE(0);
    }
    case 'int64':
    case 'uint64':
    case 'float64': {
      const b = Buffer.alloc(8);
      words.slice(0, 4).forEach((w, i) => b.writeUInt16BE(w, i * 2));
      return type === 'float64' ? b.readDoubleBE(0) : Number(type === 'int64' ? b.readBigInt64BE(0) : b.readBigUInt64BE(0));
    }
    default:
      throw new Error(`unknown register type ${type}`);
  }
}
