import { readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { ServerTCP } from 'modbus-serial';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture } from './helpers/api-site.ts';
import { ManualClock, modbusSite, profilesDirWith, startModbusRig } from './helpers/modbus-site.ts';
import { freePort, waitFor } from './helpers/wait.ts';

/**
 * Issue 12 against modbus-serial's own ServerTCP (the libmodbus file runs the same
 * ground against an independent implementation). Each unit is plain register memory;
 * `refuse` answers exception 2 to any read covering that address, `fc6` false answers
 * FC6 with exception 1 as an FC16-only unit does, `quietMs` makes the gateway drop a
 * request that comes sooner than that after its last answer, `dropEvery` loses every
 * n-th request to a unit. A tap on the server's
 * sockets records every request frame.
 */
interface Unit {
  holding: number[];
  input: number[];
  dead?: boolean;
  refuse?: { table: 'holding' | 'input'; address: number };
  fc6?: boolean;
  /** Drop every n-th request to this unit (a line that loses frames). */
  dropEvery?: number;
  seen?: number;
}
type Cb = (err: unknown, value?: unknown) => void;

class Gateway {
  frames: string[] = [];
  dropped = 0;
  private server?: ServerTCP;
  private lastAnswer = 0;

  constructor(
    readonly port: number,
    readonly units: Map<number, Unit>,
    readonly quietMs = 0,
  ) {}

  async start(): Promise<void> {
    const answer = (id: number, produce: (u: Unit) => unknown, cb: Cb, refusedIf?: (u: Unit) => boolean) => {
      const u = this.units.get(id);
      if (!u || u.dead) return;
      u.seen = (u.seen ?? 0) + 1;
      if (u.dropEvery && u.seen % u.dropEvery === 0) return;
      if (this.quietMs && performance.now() - this.lastAnswer < this.quietMs) return void this.dropped++; // too soon: a gateway that needs rest
      this.lastAnswer = performance.now();
      if (refusedIf?.(u)) return cb({ modbusErrorCode: 2 }, []);
      cb(null, produce(u));
    };
    const read = (table: 'holding' | 'input') => (addr: number, len: number, id: number, cb: Cb) =>
      answer(id, (u) => Array.from({ length: len }, (_, i) => u[table][addr + i] ?? 0), cb, (u) => u.refuse?.table === table && u.refuse.address >= addr && u.refuse.address < addr + len);
    const vector = {
      getMultipleInputRegisters: read('input'),
      getMultipleHoldingRegisters: read('holding'),
      getInputRegister: (addr: number, id: number, cb: Cb) => read('input')(addr, 1, id, (e, v) => cb(e, (v as number[])?.[0])),
      getHoldingRegister: (addr: number, id: number, cb: Cb) => read('holding')(addr, 1, id, (e, v) => cb(e, (v as number[])?.[0])),
      // fcu-modbus also reads a coil and a discrete input: both off.
      getCoil: (_addr: number, id: number, cb: Cb) => answer(id, () => false, cb),
      getDiscreteInput: (_addr: number, id: number, cb: Cb) => answer(id, () => false, cb),
      setRegister: (addr: number, value: number, id: number, cb: Cb) =>
        answer(id, (u) => void (u.holding[addr] = value), cb, (u) => u.fc6 === false && (cb({ modbusErrorCode: 1 }), true) && false),
      setRegisterArray: (addr: number, values: number[], id: number, cb: Cb) => answer(id, (u) => void values.forEach((v, i) => (u.holding[addr + i] = v)), cb),
    };
    const server = new ServerTCP(vector as never, { host: '127.0.0.1', port: this.port, unitID: 255 });
    this.server = server;
    (server as unknown as { _server: Server })._server.on('connection', (sock: Socket) => {
      let buf = Buffer.alloc(0);
      sock.on('data', (data) => {
        buf = Buffer.concat([buf, data]);
        while (buf.length >= 12 && buf.length >= 6 + buf.readUInt16BE(4)) {
          const fc = buf[7]!;
          this.frames.push(`u${buf[6]} fc${fc} ${buf.readUInt16BE(8)}+${fc === 5 || fc === 6 ? 1 : buf.readUInt16BE(10)}`);
          buf = buf.subarray(6 + buf.readUInt16BE(4));
        }
      });
    });
    await new Promise<void>((resolve, reject) => (server.once('initialized', () => resolve()), server.once('serverError', reject)));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  of(unit: number): string[] {
    return this.frames.filter((f) => f.startsWith(`u${unit} `)).map((f) => f.slice(f.indexOf(' ') + 1));
  }
}

let profiles: ReturnType<typeof profilesDirWith>;
beforeAll(() => {
  profiles = profilesDirWith({ 'acme-fc200': readFileSync(join(import.meta.dirname, 'fixtures/acme-fc200.yaml'), 'utf8') });
});
afterAll(() => profiles.remove());
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

// The FC-200 as in the libmodbus test: 21.5 °C CDAB, 45.6 %, valve 40, 100000 h CDAB; 22.0, cool, medium; control word 0x8009.
const fc200 = (extra: Partial<Unit> = {}): Unit => ({ input: [0x0000, 0x41ac, 456, 0, 0, 0, 40, 0, 0x86a0, 0x0001], holding: [220, 1, 2, 0, 0, 0, 0, 0, 0x8009], ...extra });

async function rig(units: Record<number, Unit>, devices: string[], gatewayOptions = '', quietMs = 0) {
  const gw = new Gateway(await freePort(), new Map(Object.entries(units).map(([k, v]) => [Number(k), v])), quietMs);
  await gw.start();
  cleanups.push(() => gw.stop());
  const clock = new ManualClock();
  const site = modbusSite(profiles.dir, [`{ id: gw, tcp: { host: 127.0.0.1, port: ${gw.port} }${gatewayOptions} }`], devices);
  const r = await startModbusRig(site, { clock });
  cleanups.push(() => r.stop());
  return { ...r, gw, clock };
}
async function cycle(t: { clock: ManualClock; polls: (name: string) => number }, expected: Record<string, number>) {
  t.clock.advance(5000);
  for (const [name, n] of Object.entries(expected)) await waitFor(() => t.polls(name) >= n, 15_000, `${name} poll ${n}`);
}
const dev = (name: string, unit: number, profile = 'acme-fc200') => `{ name: ${name}, profile: ${profile}, modbus: { gateway: gw, unit: ${unit} } }`;

describe('issue 12 against modbus-serial ServerTCP', () => {
  it('reads the vendor unit around a refused reserved register and writes it with FC16 and read-modify-write only', async () => {
    const unit = fc200({ refuse: { table: 'input', address: 4 }, fc6: false });
    const t = await rig({ 1: unit }, [dev('hvac', 1)]);
    await waitFor(() => t.polls('hvac') >= 1 && t.good('hvac'), 15_000, 'first poll');
    expect([t.state('hvac.temperature').value, t.state('hvac.run_hours').value, t.state('hvac.power').value, t.state('hvac.fault').value]).toEqual([21.5, 100000, true, true]);
    expect(t.gw.of(1)).toEqual(['fc4 0+10', 'fc4 0+3', 'fc4 6+1', 'fc4 8+2', 'fc3 0+3', 'fc3 8+1']);
    t.gw.frames = [];
    await t.router.write('R1', 'hvac.mode', 'heat');
    await t.router.write('R1', 'hvac.eco', false);
    expect(unit.holding[1]).toBe(2);
    expect(unit.holding[8]).toBe(0x8001);
    await waitFor(() => t.state('hvac.mode').value === 'heat' && t.state('hvac.eco').value === false, 15_000, 'read-back');
    expect(t.gw.of(1)).toEqual(['fc16 1+1', 'fc3 0+3', 'fc3 8+1', 'fc16 8+1', 'fc3 8+1']);
  });

  it('sends a shipped-profile write with FC6, and an FC16-only unit refuses it with exception 1, named in the error', async () => {
    const t = await rig({ 2: { input: [215, 40, 1, 0x86a0], holding: [220, 1, 2], fc6: false } }, ['{ name: hvac, profile: fcu-modbus, modbus: { gateway: gw, unit: 2 } }']);
    await waitFor(() => t.state('hvac.setpoint').quality === 'good', 15_000, 'first poll');
    await expect(t.adapter.writePoint(t.point('hvac.setpoint'), 21, 'cmd-6')).rejects.toThrow(/write holding 0 with FC6 \(hvac\.setpoint\).*exception 1 \(illegal function\)/);
  });

  it('paces requests to a gateway that drops any request within 150 ms of its last answer, where unpaced polling loses them', async () => {
    const units = { 1: fc200(), 2: fc200() };
    const paced = await rig(units, [dev('a', 1), dev('b', 2)], ', request_gap_ms: 250, timeout_ms: 2000', 150);
    await waitFor(() => paced.good('a') && paced.good('b'), 30_000, 'every point good, paced');
    expect(paced.gw.dropped).toBe(0);
    expect(paced.device('a').timeouts + paced.device('b').timeouts).toBe(0);
    // Control: the same gateway without pacing drops the back-to-back requests of one poll.
    const unpaced = await rig(units, [dev('a', 1), dev('b', 2)], ', timeout_ms: 300', 150);
    await waitFor(() => unpaced.gw.dropped > 0 && unpaced.device('a').timeouts + unpaced.device('b').timeouts > 0, 30_000, 'dropped requests, unpaced');
  });
});

describe('retries', () => {
  it('repeats a lost request at once for a unit with retries, which stays online, where the same line without retries counts misses', async () => {
    const lossy = () => ({ input: [215, 40, 1, 0x86a0], holding: [220, 1, 2], dropEvery: 2 });
    const devices = ['{ name: steady, profile: fcu-modbus, modbus: { gateway: gw, unit: 1, retries: 1 } }', '{ name: plain, profile: fcu-modbus, modbus: { gateway: gw, unit: 2 } }'];
    const t = await rig({ 1: lossy(), 2: lossy() }, devices, ', timeout_ms: 200');
    await waitFor(() => t.polls('steady') >= 1 && t.polls('plain') >= 1, 15_000, 'first polls');
    await cycle(t, { steady: 2, plain: 2 });
    await cycle(t, { steady: 3, plain: 2 }); // plain: two misses (t = 0, 5), its next try is at t = 15
    // Every second request lost: steady repeats each at once and reads all 4 blocks every poll.
    expect(t.good('steady')).toBe(true);
    expect(t.device('steady').misses).toBe(0);
    expect(t.device('steady').timeouts).toBe(t.gw.of(1).length - 3 * 4);
    expect(t.device('steady').timeouts).toBeGreaterThanOrEqual(9);
    // plain loses one request in each of its polls: two misses, offline
    expect(t.store.deviceHealth('R1', 'plain')).toMatchObject({ online: false });
    expect(t.store.deviceHealth('R1', 'steady')).toMatchObject({ online: true });
  });
});

describe('/healthz with a dead Modbus unit', () => {
  it('says degraded and names the unit that misses its polls, while its gateway stays connected', async () => {
    const gw = new Gateway(await freePort(), new Map([[1, fc200()], [3, { ...fc200(), dead: true }]]));
    await gw.start();
    cleanups.push(() => gw.stop());
    const yaml = `
site: { id: hz, name: Health Test, timezone: Asia/Shanghai, language: en }
modbus: { gateways: [ { id: gw-4f, tcp: { host: 127.0.0.1, port: ${gw.port} }, timeout_ms: 300 } ] }
rooms:
  - { id: 4F-401, name: Room 401, capacity: 8, devices: [ { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-4f, unit: 1, poll_ms: 200 } } ] }
  - { id: 4F-403, name: Room 403, capacity: 8, devices: [ { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-4f, unit: 3, poll_ms: 200 } } ] }
`;
    const f = await apiFixture({ yaml });
    cleanups.push(() => f.close());
    // The live unit may miss a poll while the whole service starts in this process: wait until only the dead one is listed.
    const body = await waitFor(async () => {
      const b = (await f.app.inject({ method: 'GET', url: '/healthz' })).json();
      return b.modbus.degraded.map((d: { device: string }) => d.device).join() === '4F-403/hvac' && b;
    }, 15_000, 'the dead unit, alone, among the degraded');
    expect(body.status).toBe('degraded');
    expect(body.modbus.gateways).toEqual([{ id: 'gw-4f', connected: true, timeouts: expect.any(Number) }]);
    expect(body.modbus.degraded).toEqual([{ device: '4F-403/hvac', misses: expect.any(Number), timeouts: expect.any(Number), error: expect.stringMatching(/unit 3 did not answer .* within 300 ms/) }]);
  });
});
