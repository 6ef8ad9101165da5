import type { Server, Socket } from 'node:net';
import ModbusRTU from 'modbus-serial';
import { ServerTCP } from 'modbus-serial';
import type { ResolvedDevice } from '../../controller/src/model/devices.ts';
import { freePort } from '../../controller/test/helpers/wait.ts';

/**
 * The plant of bench:modbus: TCP gateways (modbus-serial's ServerTCP) with fan-coil
 * units behind them that answer every request `latencyMs` late, as a serial unit
 * behind an RTU gateway does, and one unit per gateway that never answers. Each
 * gateway counts the request frames it receives per unit.
 */
type Cb = (err: unknown, value?: unknown) => void;

export class BenchGateway {
  /** Request frames received, by unit id. */
  readonly frames = new Map<number, number>();
  port = 0;
  private server?: ServerTCP;
  private timers = new Set<NodeJS.Timeout>();

  constructor(
    private liveUnits: Set<number>,
    private latencyMs: number,
  ) {}

  async start(): Promise<void> {
    this.port = await freePort();
    const later = (id: number, cb: Cb, value: unknown) => {
      if (!this.liveUnits.has(id)) return; // the dead unit: no answer at all
      const t = setTimeout(() => (this.timers.delete(t), cb(null, value)), this.latencyMs);
      this.timers.add(t);
    };
    // The fan-coil map of devices/profiles/fcu-modbus.yaml: 21.5 °C, valve 40 %, setpoint 22.0, cool, medium, on, no fault.
    const input = [215, 40, 1, 0x86a0];
    const holding = [220, 1, 2];
    const vector = {
      getInputRegister: (a: number, id: number, cb: Cb) => later(id, cb, input[a] ?? 0),
      getMultipleInputRegisters: (a: number, n: number, id: number, cb: Cb) => later(id, cb, Array.from({ length: n }, (_, i) => input[a + i] ?? 0)),
      getHoldingRegister: (a: number, id: number, cb: Cb) => later(id, cb, holding[a] ?? 0),
      getMultipleHoldingRegisters: (a: number, n: number, id: number, cb: Cb) => later(id, cb, Array.from({ length: n }, (_, i) => holding[a + i] ?? 0)),
      getCoil: (_a: number, id: number, cb: Cb) => later(id, cb, true),
      getDiscreteInput: (_a: number, id: number, cb: Cb) => later(id, cb, false),
    };
    const server = new ServerTCP(vector as never, { host: '127.0.0.1', port: this.port, unitID: 255 });
    this.server = server;
    server.on('socketError', () => {});
    (server as unknown as { _server: Server })._server.on('connection', (sock: Socket) => {
      sock.setNoDelay(true);
      let buf = Buffer.alloc(0);
      sock.on('data', (data) => {
        buf = Buffer.concat([buf, data]);
        while (buf.length >= 7 && buf.length >= 6 + buf.readUInt16BE(4)) {
          this.frames.set(buf[6]!, (this.frames.get(buf[6]!) ?? 0) + 1);
          buf = buf.subarray(6 + buf.readUInt16BE(4));
        }
      });
    });
    await new Promise<void>((resolve, reject) => (server.once('initialized', () => resolve()), server.once('serverError', reject)));
  }

  resetCounts(): void {
    this.frames.clear();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * The comparison: what a simple integration does — one connection per gateway, one
 * request per point, every device in turn, every cycle, each request with the same
 * timeout as roomctl's, and no memory of which unit is dead.
 */
export class NaivePoller {
  private stopped = false;
  private clients: ModbusRTU[] = [];

  constructor(
    private byGateway: { port: number; devices: ResolvedDevice[] }[],
    private pollMs: number,
    private timeoutMs: number,
    /** Called when every point of a device has been read once more. */
    private onCycle: (device: ResolvedDevice, at: number) => void,
  ) {}

  async start(): Promise<void> {
    for (const gw of this.byGateway) {
      const client = new ModbusRTU();
      await client.connectTCP('127.0.0.1', { port: gw.port });
      client.setTimeout(this.timeoutMs);
      this.clients.push(client);
      void this.loop(client, gw.devices);
    }
  }

  private async loop(client: ModbusRTU, devices: ResolvedDevice[]): Promise<void> {
    while (!this.stopped) {
      const started = performance.now();
      for (const device of devices) {
        const unit = device.modbus!.unit;
        let answered = true;
        for (const point of device.points) {
          if (this.stopped) return;
          const m = point.modbus!;
          const n = m.type === 'uint32' || m.type === 'int32' || m.type === 'float32' ? 2 : 1;
          client.setID(unit);
          try {
            if (m.table === 'input') await client.readInputRegisters(m.address, n);
            else if (m.table === 'holding') await client.readHoldingRegisters(m.address, n);
            else if (m.table === 'coil') await client.readCoils(m.address, 1);
            else await client.readDiscreteInputs(m.address, 1);
          } catch {
            answered = false;
          }
        }
        if (answered) this.onCycle(device, performance.now());
      }
      // Wait out the rest of the period, as a fixed-rate poller does.
      const rest = this.pollMs - (performance.now() - started);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.clients.map((c) => new Promise<void>((resolve) => c.close(() => resolve()))));
  }
}
