import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import type { IServiceVector } from 'modbus-serial';

/**
 * A Modbus TCP server for the simulated building that answers each request in the
 * same event-loop turn it arrives, using modbus-serial's own request handlers
 * (servers/servertcp_handler.js) with the MBAP framing of its ServerTCP.
 *
 * Why not ServerTCP itself: it defers every request by `setTimeout(…, 0)`, which
 * Node rounds up to a real millisecond. A fan-coil poll cycle is ~20 requests one
 * after another on each gateway link, so a simulated day on virtual time spent most
 * of its wall time waiting for those timers (a demo day: ~10,000 poll cycles). The
 * answers are byte for byte ServerTCP's: same handlers, same exception codes, same
 * unit-id rule (255: answer every unit id), and a request the vector does not answer
 * gets no answer at all, as from a silent unit on a real gateway.
 */
type Handler = (request: Buffer, vector: IServiceVector, unitId: number, cb: (err: unknown, response?: Buffer) => void, fc?: number) => void;

const require = createRequire(import.meta.url);
const handlers = require('modbus-serial/servers/servertcp_handler.js') as Record<string, Handler>;
const crc16 = require('modbus-serial/utils/crc16.js') as (buffer: Buffer) => number;

const MBAP_LEN = 6;

/** Function code → modbus-serial's handler for it (FC 1 and 2 share one, told apart by fc). */
const BY_FUNCTION: Record<number, Handler | undefined> = {
  1: handlers.readCoilsOrInputDiscretes,
  2: handlers.readCoilsOrInputDiscretes,
  3: handlers.readMultipleRegisters,
  4: handlers.readInputRegisters,
  5: handlers.writeCoil,
  6: handlers.writeSingleRegister,
  15: handlers.forceMultipleCoils,
  16: handlers.writeMultipleRegisters,
  43: handlers.handleMEI,
};

export class SameTurnModbusServer {
  private server: Server | undefined;
  private sockets = new Set<Socket>();

  constructor(private vector: IServiceVector) {}

  /** Resolves once listening; rejects with the listen error (port in use, …). */
  listen(host: string, port: number, onConnection?: (sock: Socket) => void): Promise<void> {
    // onConnection first, so its listeners see a request before it is answered.
    const server = createServer((sock) => {
      onConnection?.(sock);
      this.serve(sock);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        server.on('error', () => {}); // after listening, an accept error is not the simulator's problem
        resolve();
      });
    });
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private serve(sock: Socket): void {
    this.sockets.add(sock);
    sock.once('close', () => this.sockets.delete(sock));
    sock.on('error', () => {}); // a client going away is not the simulator's problem
    let received: Buffer = Buffer.alloc(0);
    sock.on('data', (data: Buffer) => {
      received = received.length ? Buffer.concat([received, data]) : data;
      while (received.length > MBAP_LEN) {
        const pduLength = received.readUInt16BE(4);
        if (received.length - MBAP_LEN < pduLength) break;
        const transactionId = received.readUInt16BE(0);
        // The handlers take an RTU frame: the PDU (unit id first) with a CRC after it.
        const request = Buffer.alloc(pduLength + 2);
        received.copy(request, 0, MBAP_LEN, MBAP_LEN + pduLength);
        received = received.subarray(MBAP_LEN + pduLength);
        request.writeUInt16LE(crc16(request.subarray(0, -2)), request.length - 2);
        this.answer(request, (rtu) => {
          if (sock.destroyed) return;
          const out = Buffer.alloc(rtu.length + MBAP_LEN - 2);
          out.writeUInt16BE(transactionId, 0);
          out.writeUInt16BE(0, 2);
          out.writeUInt16BE(rtu.length - 2, 4);
          rtu.copy(out, MBAP_LEN, 0, rtu.length - 2);
          sock.write(out);
        });
      }
    });
  }

  /** ServerTCP's _parseModbusBuffer and _callbackFactory, run at once instead of on a timer. */
  private answer(request: Buffer, send: (rtu: Buffer) => void): void {
    if (request.length < MBAP_LEN) return;
    const unitId = request[0]!;
    let functionCode = request[1]!;
    const cb = (err: unknown, response?: Buffer) => {
      if (err) {
        const code = Number((err as { modbusErrorCode?: number }).modbusErrorCode);
        functionCode |= 0x80;
        response = Buffer.alloc(5);
        response.writeUInt8(Number.isNaN(code) ? 0x04 : code, 2);
      }
      if (!response) return;
      response.writeUInt8(unitId, 0);
      response.writeUInt8(functionCode, 1);
      response.writeUInt16LE(crc16(response.subarray(0, -2)), response.length - 2);
      send(response);
    };
    const handler = BY_FUNCTION[functionCode];
    if (handler) handler(request, this.vector, unitId, cb, functionCode);
    else cb({ modbusErrorCode: 0x01 }); // illegal function
  }
}
