import type { Socket } from 'node:net';
import type { IServiceVector } from 'modbus-serial';
import { SameTurnModbusServer } from './modbus-server.ts';
import { ModbusException, RegisterMap } from './register-map.ts';
import type { SimStats } from './stats.ts';

/**
 * One Modbus TCP gateway of the simulated building (modbus-serial's request handlers,
 * answering in the turn a request arrives: modbus-server.ts):
 * several unit ids behind one port, as an RTU-to-TCP gateway in a real plant
 * room. A unit that is offline (fault `fcu_offline`/`device_offline`), or a unit
 * id nobody answers to, gets no answer at all: the client's timeout is what
 * tells it, exactly as on site.
 */
export interface GatewayUnit {
  map: RegisterMap;
  /** True while the unit must not answer. */
  silent(): boolean;
}

type Callback = (err: Error | null, value?: unknown) => void;

export class ModbusGateway {
  private server: SameTurnModbusServer | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    private units: Map<number, GatewayUnit>,
    private stats: SimStats,
  ) {}

  async start(): Promise<void> {
    const server = new SameTurnModbusServer(this.vector());
    this.server = server;
    // Counting frames in and answers out is what lets a test know when every request
    // has been answered (harness.ts).
    await server.listen(this.host, this.port, (sock) => this.count(sock)).catch((err: unknown) => {
      throw new Error(`simulated Modbus gateway cannot listen on ${this.host}:${this.port}: ${(err as Error)?.message ?? String(err)}`);
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  private unit(unitId: number): GatewayUnit | undefined {
    const u = this.units.get(unitId);
    return u && !u.silent() ? u : undefined;
  }

  /** Callback-style handlers: not calling back means not answering. */
  private vector(): IServiceVector {
    const serve = <T>(unitId: number, cb: Callback, fn: (u: GatewayUnit) => T) => {
      const u = this.unit(unitId);
      if (!u) return; // no answer
      try {
        cb(null, fn(u));
      } catch (err) {
        // With an empty value list: ServerTCP reads values[i] of a multi-register answer before it
        // looks at the error, and without one answers every refusal as exception 4 (device failure).
        if (err instanceof ModbusException) cb(err, []);
        else cb(Object.assign(new Error(String(err)), { modbusErrorCode: 0x04 }), []);
      }
    };
    const range = (addr: number, length: number, read: (a: number) => number) => Array.from({ length }, (_, i) => read(addr + i));
    return {
      getCoil: (addr: number, unitId: number, cb: Callback) => serve(unitId, cb, (u) => u.map.readBit('coil', addr)),
      getDiscreteInput: (addr: number, unitId: number, cb: Callback) => serve(unitId, cb, (u) => u.map.readBit('discrete', addr)),
      getInputRegister: (addr: number, unitId: number, cb: Callback) => serve(unitId, cb, (u) => u.map.readWord('input', addr)),
      getHoldingRegister: (addr: number, unitId: number, cb: Callback) => serve(unitId, cb, (u) => u.map.readWord('holding', addr)),
      getMultipleInputRegisters: (addr: number, length: number, unitId: number, cb: Callback) =>
        serve(unitId, cb, (u) => range(addr, length, (a) => u.map.readWord('input', a))),
      getMultipleHoldingRegisters: (addr: number, length: number, unitId: number, cb: Callback) =>
        serve(unitId, cb, (u) => range(addr, length, (a) => u.map.readWord('holding', a))),
      setCoil: (addr: number, value: boolean, unitId: number, cb: Callback) => serve(unitId, cb, (u) => u.map.writeBit(addr, value)),
      setRegister: (addr: number, value: number, unitId: number, cb: Callback) => serve(unitId, cb, (u) => u.map.writeWords(addr, [value])),
      setRegisterArray: (addr: number, values: number[], unitId: number, cb: Callback) => serve(unitId, cb, (u) => u.map.writeWords(addr, values)),
    } as unknown as IServiceVector;
  }

  /** Counts MBAP frames arriving, frames that will get no answer, and answers written. */
  private count(sock: Socket): void {
    sock.setNoDelay(true); // answers go out at once, as from a real gateway
    let buffer = Buffer.alloc(0);
    sock.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      while (buffer.length >= 7) {
        const frameLength = 6 + buffer.readUInt16BE(4);
        if (buffer.length < frameLength) break;
        const unitId = buffer[6]!;
        buffer = buffer.subarray(frameLength);
        this.stats.framesIn++;
        if (!this.unit(unitId)) this.stats.framesUnanswered++;
      }
    });
    const write = sock.write.bind(sock) as (...args: unknown[]) => boolean;
    (sock as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
      this.stats.framesAnswered++;
      return write(...args);
    };
  }
}
