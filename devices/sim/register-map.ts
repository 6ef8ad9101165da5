import type { ResolvedPoint } from '../../controller/src/model/devices.ts';
import type { PointValue } from '../../controller/src/model/points.ts';
import { pointKey, type SimDevice } from './sim-device.ts';

/**
 * A Modbus unit's register tables, built from its profile's point mappings
 * (table, address, type, scale, offset, word order, enum) rather than from a
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
  /** Index of this register within the point (0 or 1 for 32-bit types). */
  word: number;
}

const wordsOf = (type: string) => (type === 'int32' || type === 'uint32' || type === 'float32' ? 2 : 1);

export class RegisterMap {
  private slots: Record<Table, Map<number, Slot>> = { holding: new Map(), input: new Map(), coil: new Map(), discrete: new Map() };

  constructor(
    private model: SimDevice,
    /** Called after the model took a write (the building records and republishes). */
    private onWrite: () => void = () => {},
  ) {
    for (const point of model.device.points) {
      const m = point.modbus;
      if (!m) continue;
      const n = m.table === 'coil' || m.table === 'discrete' ? 1 : wordsOf(m.type);
      for (let w = 0; w < n; w++) this.slots[m.table].set(m.address + w, { point, key: pointKey(model.device, point.id), word: w });
    }
  }

  readWord(table: 'holding' | 'input', address: number): number {
    const slot = this.slot(table, address);
    return this.encode(slot.point, this.model.read(slot.key))[slot.word]!;
  }

  readBit(table: 'coil' | 'discrete', address: number): boolean {
    const slot = this.slot(table, address);
    return this.model.read(slot.key) === true;
  }

  writeBit(address: number, value: boolean): void {
    const slot = this.slot('coil', address);
    if (!this.model.write(slot.key, value)) throw new ModbusException(SERVER_DEVICE_FAILURE, `unit refused ${slot.key}`);
    this.onWrite();
  }

  /** FC6/FC16: words starting at an address; a 32-bit point may be written half at a time. */
  writeWords(address: number, words: number[]): void {
    const pending = new Map<string, { point: ResolvedPoint; key: string; raw: number[] }>();
    words.forEach((word, i) => {
      const slot = this.slot('holding', address + i);
      let entry = pending.get(slot.key);
      if (!entry) {
        entry = { point: slot.point, key: slot.key, raw: this.encode(slot.point, this.model.read(slot.key)) };
        pending.set(slot.key, entry);
      }
      entry.raw[slot.word] = word & 0xffff;
    });
    // Decode everything first: a request with one bad value changes nothing.
    const decoded = [...pending.values()].map(({ point, key, raw }) => ({ key, value: this.decode(point, raw) }));
    for (const { key, value } of decoded) if (!this.model.write(key, value)) throw new ModbusException(SERVER_DEVICE_FAILURE, `unit refused ${key}`);
    this.onWrite();
  }

  private slot(table: Table, address: number): Slot {
    const slot = this.slots[table].get(address);
    if (!slot) throw new ModbusException(ILLEGAL_DATA_ADDRESS, `no ${table} register ${address}`);
    return slot;
  }

  /** Point value → register words (in the wire's word order). */
  encode(point: ResolvedPoint, value: PointValue | undefined): number[] {
    const m = point.modbus!;
    let raw: number;
    if (value === undefined) raw = 0;
    else if (point.def.type === 'enum') {
      const entry = Object.entries(m.enum ?? {}).find(([, v]) => v === value);
      raw = entry ? Number(entry[0]) : 0;
    } else if (typeof value === 'boolean') raw = value ? 1 : 0;
    else raw = (Number(value) - m.offset) / m.scale;
    const words = toWords(m.type, raw);
    return m.word_order === 'little' && words.length === 2 ? [words[1]!, words[0]!] : words;
  }

  decode(point: ResolvedPoint, wire: number[]): PointValue {
    const m = point.modbus!;
    const words = m.word_order === 'little' && wire.length === 2 ? [wire[1]!, wire[0]!] : wire;
    const raw = fromWords(m.type, words);
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
    default:
      throw new Error(`unknown register type ${type}`);
  }
}
