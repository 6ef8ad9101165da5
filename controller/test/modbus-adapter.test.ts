import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerTCP } from 'modbus-serial';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModbusAdapter, type ModbusAdapterOptions } from '../src/adapters/modbus.ts';
import { loadConfigText, type Site } from '../src/config/load.ts';
import { SHIPPED_PROFILES_DIR } from '../src/config/profiles.ts';
import { ErrorCode, isRoomctlError } from '../src/errors.ts';
import { silentLogger } from '../src/log.ts';
import { EventBus } from '../src/model/bus.ts';
import { systemClock, type Clock } from '../src/model/clock.ts';
import { CommandRouter } from '../src/model/commands.ts';
import type { PayloadRejection } from '../src/model/points.ts';
import { RoomStateStore } from '../src/model/room-state.ts';
import { freePort, waitFor } from './helpers/wait.ts';
import { ManualClock } from './helpers/modbus-site.ts';

/**
 * The adapter against modbus-serial's own ServerTCP: one listening port with several
 * unit ids behind it (unitID 255 = answer for every unit, as a gateway does). Each
 * unit is plain memory; a unit can be slow, dead (never answers) or answer with an
 * exception. A tap on the server's sockets records every request frame it received.
 */
type Table = 'holding' | 'input' | 'coil' | 'discrete';
interface Unit {
  holding: number[];
  input: number[];
  coils: boolean[];
  discrete: boolean[];
  delayMs?: number;
  dead?: boolean;
  /** Answer reads of a table (or any write) with this exception code. */
  exceptions?: Partial<Record<Table | 'write', number>>;
}
interface Frame {
  unit: number;
  fc: number;
  address: number;
  count: number;
}
type Cb = (err: unknown, value?: unknown) => void;

const unit = (u: Partial<Unit> = {}): Unit => ({ holding: [], input: [], coils: [], discrete: [], ...u });
const fcu = (temperatureRaw = 215) => unit({ input: [temperatureRaw, 40, 0x0001, 0x86a0], holding: [220, 1, 2], coils: [true], discrete: [false] });
const fau = () => unit({ input: [650, 0xffce, 0x4454, 0xa000], holding: [2], coils: [true], discrete: [true] });

class FakeGateway {
  frames: Frame[] = [];
  connections = 0;
  private server?: ServerTCP;
  private timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly port: number,
    readonly units: Map<number, Unit>,
  ) {}

  async start(): Promise<void> {
    const answer = (id: number, kind: Table | 'write', produce: (u: Unit) => unknown, cb: Cb) => {
      const u = this.units.get(id);
      if (!u || u.dead) return; // a dead unit never answers
      const code = u.exceptions?.[kind];
      // An empty value list with the error: servertcp reads values[i] before it looks at the error.
      const respond = () => (code !== undefined ? cb({ modbusErrorCode: code }, []) : cb(null, produce(u)));
      if (!u.delayMs) return respond();
      const t = setTimeout(() => (this.timers.delete(t), respond()), u.delayMs);
      this.timers.add(t);
    };
    const regs = (list: number[], addr: number, len: number) => Array.from({ length: len }, (_, i) => list[addr + i] ?? 0);
    const vector = {
      getInputRegister: (addr: number, id: number, cb: Cb) => answer(id, 'input', (u) => u.input[addr] ?? 0, cb),
      getMultipleInputRegisters: (addr: number, len: number, id: number, cb: Cb) => answer(id, 'input', (u) => regs(u.input, addr, len), cb),
      getHoldingRegister: (addr: number, id: number, cb: Cb) => answer(id, 'holding', (u) => u.holding[addr] ?? 0, cb),
      getMultipleHoldingRegisters: (addr: number, len: number, id: number, cb: Cb) => answer(id, 'holding', (u) => regs(u.holding, addr, len), cb),
      getCoil: (addr: number, id: number, cb: Cb) => answer(id, 'coil', (u) => u.coils[addr] ?? false, cb),
      getDiscreteInput: (addr: number, id: number, cb: Cb) => answer(id, 'discrete', (u) => u.discrete[addr] ?? false, cb),
      setRegister: (addr: number, value: number, id: number, cb: Cb) => answer(id, 'write', (u) => void (u.holding[addr] = value), cb),
      setCoil: (addr: number, value: boolean, id: number, cb: Cb) => answer(id, 'write', (u) => void (u.coils[addr] = value), cb),
    };
    const server = new ServerTCP(vector as never, { host: '127.0.0.1', port: this.port, unitID: 255 });
    this.server = server;
    // The tap listens beside ServerTCP's own handler on its net.Server and parses MBAP frames.
    (server as unknown as { _server: Server })._server.on('connection', (sock: Socket) => {
      this.connections++;
      let buf = Buffer.alloc(0);
      sock.on('data', (data) => {
        buf = Buffer.concat([buf, data]);
        while (buf.length >= 12 && buf.length >= 6 + buf.readUInt16BE(4)) {
          const fc = buf[7]!;
          this.frames.push({ unit: buf[6]!, fc, address: buf.readUInt16BE(8), count: fc === 5 || fc === 6 ? 1 : buf.readUInt16BE(10) });
          buf = buf.subarray(6 + buf.readUInt16BE(4));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('initialized', () => resolve());
      server.once('serverError', reject);
    });
  }

  /** Closes the port and every client socket, like a gateway that is switched off. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  openSockets(): number {
    return this.server?.socks.size ?? 0;
  }

  framesOf(id: number): string[] {
    return this.frames.filter((f) => f.unit === id).map((f) => `fc${f.fc} ${f.address}+${f.count}`);
  }
}


const TYPES_PROFILE = `
id: types-modbus
name: Register type test unit
kind: air_quality
protocol: modbus
poll_ms: 5000
word_order: little
points:
  i16: { type: number, writable: true, stale_after_s: 30, modbus: { table: holding, address: 0, type: int16 } }
  u16: { type: number, writable: true, stale_after_s: 30, modbus: { table: holding, address: 1, type: uint16 } }
  i32_big: { type: number, writable: true, stale_after_s: 30, modbus: { table: holding, address: 2, type: int32, word_order: big } }
  i32: { type: number, writable: true, stale_after_s: 30, modbus: { table: holding, address: 4, type: int32 } }
  u32: { type: number, writable: true, stale_after_s: 30, modbus: { table: holding, address: 6, type: uint32 } }
  u32_big: { type: number, writable: true, stale_after_s: 30, modbus: { table: holding, address: 8, type: uint32, word_order: big } }
  f32: { type: number, writable: true, stale_after_s: 30, modbus: { table: holding, address: 10, type: float32 } }
  f32_big: { type: number, writable: true, stale_after_s: 30, modbus: { table: holding, address: 12, type: float32, word_order: big } }
  scaled: { type: number, writable: true, min: -40, max: 100, safe: { min: -10, max: 50 }, stale_after_s: 30, modbus: { table: holding, address: 14, scale: 0.5, offset: -40 } }
  state: { type: enum, values: [off, on, fault], writable: true, stale_after_s: 30, modbus: { table: holding, address: 15, enum: { "0": off, "1": on, "9": fault } } }
  temperature: { type: number, stale_after_s: 30, modbus: { table: input, address: 0, type: int16 } }
  far: { type: number, stale_after_s: 30, modbus: { table: input, address: 100 } }
  alarm: { type: boolean, stale_after_s: 30, modbus: { table: discrete, address: 3 } }
  relay: { type: boolean, writable: true, stale_after_s: 30, modbus: { table: coil, address: 5 } }
`;
const typesUnit = () =>
  unit({
    // -5, 65000, -70000 (big), -70000 (little), 4e9 (little), 123456789 (big), 21.3 (little), -1234.5 (big), raw 130, raw 9
    holding: [0xfffb, 65000, 0xfffe, 0xee90, 0xee90, 0xfffe, 0x2800, 0xee6b, 0x075b, 0xcd15, 0x6666, 0x41aa, 0xc49a, 0x5000, 130, 9],
    input: Object.assign([0xfff4], { 100: 777 }),
    coils: Object.assign([], { 5: true }),
    discrete: Object.assign([], { 3: true }),
  });

let profilesDir: string;
beforeAll(() => {
  profilesDir = mkdtempSync(join(tmpdir(), 'roomctl-modbus-profiles-'));
  for (const f of ['fcu-modbus.yaml', 'fau-modbus.yaml']) copyFileSync(join(SHIPPED_PROFILES_DIR, f), join(profilesDir, f));
  writeFileSync(join(profilesDir, 'types-modbus.yaml'), TYPES_PROFILE);
});
afterAll(() => rmSync(profilesDir, { recursive: true, force: true }));

function siteWith(port: number, devices: string[], timeoutMs = 600): Site {
  const load = loadConfigText(
    `
site: { id: t, name: Modbus Test, timezone: Asia/Shanghai }
modbus:
  gateways:
    - { id: gw, tcp: { host: 127.0.0.1, port: ${port} }, timeout_ms: ${timeoutMs} }
rooms:
  - id: R1
    name: Room 1
    capacity: 10
    devices:
${devices.map((d) => `      - ${d}`).join('\n')}
`,
    { env: {}, profilesDir },
  );
  if (!load.site || load.errors.length > 0) throw new Error(`test config is invalid:\n${load.errors.join('\n')}`);
  return load.site;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A gateway with the given units, a site, a room state store and a running adapter. */
async function setup(units: Record<number, Unit>, devices: string[], opts: { clock?: Clock; timeoutMs?: number; adapter?: ModbusAdapterOptions } = {}) {
  const clock = opts.clock ?? systemClock;
  const gateway = new FakeGateway(await freePort(), new Map(Object.entries(units).map(([k, v]) => [Number(k), v])));
  await gateway.start();
  cleanups.push(() => gateway.stop());
  const site = siteWith(gateway.port, devices, opts.timeoutMs);
  const listenerErrors: string[] = [];
  const bus = new EventBus((event, err) => listenerErrors.push(`${event}: ${String(err)}`));
  cleanups.push(() => expect(listenerErrors).toEqual([]));
  const store = new RoomStateStore(site, bus, clock);
  store.start();
  cleanups.push(() => store.stop());
  const rejections: PayloadRejection[] = [];
  bus.on('payload-rejected', (r) => rejections.push(r));
  const adapter = new ModbusAdapter(site.rooms[0]!.devices, store, bus, clock, silentLogger, { reconnectMinMs: 100, reconnectMaxMs: 1000, ...opts.adapter });
  await adapter.start();
  cleanups.push(() => adapter.stop());
  const point = (id: string) => site.rooms[0]!.devices.flatMap((d) => d.points).find((p) => p.id === id)!;
  const state = (id: string) => store.get('R1', id)!;
  const polls = (device: string) => adapter.stats().devices[`R1/${device}`]!.polls;
  return { gateway, site, bus, store, adapter, clock, point, state, polls, rejections, router: new CommandRouter(site, [adapter], bus, clock) };
}

const HVAC = (id: number, pollMs?: number, name = 'hvac') => `{ name: ${name}, profile: fcu-modbus, modbus: { gateway: gw, unit: ${id}${pollMs ? `, poll_ms: ${pollMs}` : ''} } }`;
const FAU = (id: number, pollMs?: number) => `{ name: fresh_air, profile: fau-modbus, modbus: { gateway: gw, unit: ${id}${pollMs ? `, poll_ms: ${pollMs}` : ''} } }`;
const TYPES = (id: number, pollMs?: number) => `{ name: types, profile: types-modbus, modbus: { gateway: gw, unit: ${id}${pollMs ? `, poll_ms: ${pollMs}` : ''} } }`;

async function expectRejection(promise: Promise<unknown>, code: ErrorCode): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isRoomctlError(err, code), `expected RoomctlError ${code}, got ${String(err)}`).toBe(true);
  return (err as Error).message;
}

describe('Modbus adapter against modbus-serial ServerTCP', () => {
  it('decodes every register type and word order of three units behind one gateway connection into room state', async () => {
    const t = await setup({ 1: fcu(), 2: fau(), 3: typesUnit() }, [HVAC(1, 200), FAU(2, 200), TYPES(3, 200)]);
    const ids = t.site.rooms[0]!.devices.flatMap((d) => d.points.map((p) => p.id));
    await waitFor(() => ids.every((id) => t.state(id).quality === 'good'), 15_000, 'every point good');
    const values = Object.fromEntries(ids.map((id) => [id, t.state(id).value]));
    expect(values).toEqual({
      'hvac.temperature': 21.5, 'hvac.setpoint': 22, 'hvac.mode': 'cool', 'hvac.fan_speed': 'medium', 'hvac.valve': 40, 'hvac.run_hours': 100000, 'hvac.power': true, 'hvac.fault': false,
      'fresh_air.power': true, 'fresh_air.speed': 'medium', 'fresh_air.co2': 650, 'fresh_air.supply_temperature': -5, 'fresh_air.airflow': 850.5, 'fresh_air.filter_alarm': true,
      'types.i16': -5, 'types.u16': 65000, 'types.i32_big': -70000, 'types.i32': -70000, 'types.u32': 4000000000, 'types.u32_big': 123456789,
      'types.f32': 21.3, 'types.f32_big': -1234.5, 'types.scaled': 25, 'types.state': 'fault', 'types.temperature': -12, 'types.far': 777, 'types.alarm': true, 'types.relay': true,
    });
    expect(Object.keys(t.adapter.stats().links)).toEqual([`tcp:127.0.0.1:${t.gateway.port}`]);
    expect(t.gateway.connections).toBe(1);
    expect(t.store.deviceHealth('R1', 'types')).toMatchObject({ online: true, errors: 0 });
    expect(t.adapter.stats().devices['R1/types']!.lastLatencyMs).toBeGreaterThanOrEqual(0);
  });

  it('reads each table of the fan-coil unit in exactly one request per poll and splits only at a wide gap', async () => {
    const clock = new ManualClock();
    const t = await setup({ 1: fcu(), 3: typesUnit() }, [HVAC(1), TYPES(3)], { clock });
    await waitFor(() => t.polls('hvac') >= 1 && t.polls('types') >= 1, 15_000, 'first polls');
    t.gateway.frames = [];
    clock.advance(5000); // one poll period of both profiles
    await waitFor(() => t.polls('hvac') >= 2 && t.polls('types') >= 2, 15_000, 'second polls');
    // FC4 input, FC3 holding, FC1 coils, FC2 discrete inputs
    expect(t.gateway.framesOf(1)).toEqual(['fc4 0+4', 'fc3 0+3', 'fc1 0+1', 'fc2 0+1']);
    // input 0 and input 100 are 99 registers apart: two reads beat one read of 101 registers.
    expect(t.gateway.framesOf(3)).toEqual(['fc4 0+1', 'fc4 100+1', 'fc3 0+16', 'fc1 5+1', 'fc2 3+1']);
  });

  it('keeps updating a healthy unit while a slow unit answers late and a dead unit never answers, and takes the dead unit offline', async () => {
    const t = await setup({ 1: fcu(), 4: { ...fcu(), delayMs: 150 }, 5: { ...fcu(), dead: true } }, [HVAC(1, 200), HVAC(4, 200, 'slow'), HVAC(5, 200, 'dead')], { timeoutMs: 400 });
    await waitFor(() => t.state('hvac.temperature').quality === 'good' && t.state('slow.temperature').quality === 'good', 15_000, 'healthy and slow units good');
    for (const raw of [230, 241, 199]) {
      t.gateway.units.get(1)!.input[0] = raw;
      await waitFor(() => t.state('hvac.temperature').value === raw / 10, 15_000, `hvac.temperature ${raw / 10}`);
    }
    await waitFor(() => t.adapter.stats().devices['R1/dead']!.timeouts >= 2, 15_000, 'two timeouts of the dead unit');
    expect(t.store.deviceHealth('R1', 'dead')).toMatchObject({ online: false });
    expect(t.store.deviceHealth('R1', 'dead')!.lastError).toMatch(/unit 5 did not answer read input 0\+4 within 400 ms/);
    expect(t.store.roomPoints('R1').filter((p) => p.device === 'dead').every((p) => p.quality === 'offline')).toBe(true);
    // Conditions, not instants: on a loaded machine a slow answer may occasionally miss its deadline.
    await waitFor(() => t.store.deviceHealth('R1', 'hvac')!.online && t.state('slow.setpoint').quality === 'good', 15_000, 'hvac online, slow unit good');
    expect(t.state('slow.setpoint').value).toBe(22);
    expect(Object.values(t.adapter.stats().links)[0]!.timeouts).toBeGreaterThanOrEqual(2);
    // A dead unit's write fails with a timeout instead of hanging.
    await expectRejection(t.adapter.writePoint(t.point('dead.setpoint'), 22, 'cmd-dead'), ErrorCode.ModbusTimeout);
  });

  it('counts exception responses: a gateway exception takes the unit offline and it is then tried at a doubling interval, an illegal address leaves its points to go stale', async () => {
    const clock = new ManualClock();
    const t = await setup({ 6: fcu(), 7: fcu() }, [HVAC(6, 5000, 'partial'), HVAC(7, 5000, 'behind_gw')], { clock });
    await waitFor(() => t.store.roomPoints('R1').every((p) => p.quality === 'good'), 15_000, 'every point good');
    t.gateway.units.get(6)!.exceptions = { holding: 0x02 };
    t.gateway.units.get(7)!.exceptions = { input: 0x0b, holding: 0x0b, coil: 0x0b, discrete: 0x0b };
    for (let i = 2; i <= 8; i++) {
      clock.advance(5000);
      await waitFor(() => t.polls('partial') >= i, 15_000, `poll ${i}`);
    }
    // The unreachable unit backs off: tried at +5 s, +10 s (then every 10 s), +20 s (then 20 s): 3 tries in 35 s, while its
    // neighbour on the same gateway kept its 5 s period.
    await waitFor(() => t.polls('behind_gw') >= 4, 15_000, 'the backed-off unit’s three tries');
    // 0x0B: the gateway could not reach the unit → offline.
    expect(t.store.deviceHealth('R1', 'behind_gw')).toMatchObject({ online: false });
    expect(t.store.deviceHealth('R1', 'behind_gw')!.lastError).toMatch(/exception 11 \(gateway target failed to respond\)/);
    expect(t.state('behind_gw.temperature').quality).toBe('offline');
    // 0x02 on the holding block: the unit answers, other blocks stay good, the holding points went stale after 30 s.
    expect(t.store.deviceHealth('R1', 'partial')).toMatchObject({ online: true });
    expect(t.state('partial.temperature')).toMatchObject({ value: 21.5, quality: 'good' });
    expect(t.state('partial.setpoint')).toMatchObject({ value: 22, quality: 'stale' });
    expect(t.state('partial.mode').quality).toBe('stale');
    const stats = t.adapter.stats();
    expect(stats.devices['R1/partial']).toMatchObject({ exceptions: 7, errors: 7 });
    expect(stats.devices['R1/behind_gw']!.exceptions).toBe(3);
    expect(stats.devices['R1/behind_gw']!.polls).toBe(4);
    expect(Object.values(stats.links)[0]!.exceptions).toBe(10);
    expect(t.rejections.filter((r) => r.device === 'partial').at(-1)).toMatchObject({ topic: 'modbus unit 6 holding 0+3', count: 7 });
    expect(t.rejections.at(-1)!.reason).toMatch(/exception 2 \(illegal data address\)/);
  });

  it('rejects and counts out-of-range and unknown enum readings without applying them', async () => {
    const clock = new ManualClock();
    const t = await setup({ 1: fcu() }, [HVAC(1)], { clock });
    // The whole first poll must be done: a clock tick during a running poll is skipped by design.
    await waitFor(() => t.polls('hvac') >= 1 && t.state('hvac.temperature').quality === 'good', 15_000, 'first poll');
    const u = t.gateway.units.get(1)!;
    u.input[0] = 9999; // 999.9 °C: above the profile's max 60
    u.holding[1] = 7; // no such mode
    u.input[1] = 55; // a legitimate change in the same poll
    clock.advance(5000);
    await waitFor(() => t.polls('hvac') >= 2, 15_000, 'second poll');
    expect(t.state('hvac.temperature')).toMatchObject({ value: 21.5 });
    expect(t.state('hvac.mode')).toMatchObject({ value: 'cool' });
    expect(t.state('hvac.valve')).toMatchObject({ value: 55, quality: 'good' });
    expect(t.rejections.map((r) => r.reason)).toEqual(['999.9 is above the point\'s maximum 60', 'expected one of auto/cool/heat/fan, got 7']);
    expect(t.adapter.stats().devices['R1/hvac']).toMatchObject({ rejected: 2, errors: 2 });
    expect(t.store.deviceHealth('R1', 'hvac')).toMatchObject({ online: true, errors: 2 });
  });

  it('writes registers and coils with scaling and clamping into server memory and reads them back promptly', async () => {
    const clock = new ManualClock(); // never advanced: only the post-write re-read can refresh values
    const t = await setup({ 1: fcu(), 3: typesUnit() }, [HVAC(1), TYPES(3)], { clock });
    await waitFor(() => t.state('hvac.setpoint').quality === 'good' && t.state('types.i32').quality === 'good', 15_000, 'first readings');
    const hvac = t.gateway.units.get(1)!;
    const types = t.gateway.units.get(3)!;

    expect(await t.router.write('R1', 'hvac.setpoint', 40)).toMatchObject({ sent: 30, clamped: true }); // P5 safe max 30 °C
    expect(hvac.holding[0]).toBe(300);
    await t.router.write('R1', 'hvac.mode', 'heat');
    expect(hvac.holding[1]).toBe(2);
    await t.router.write('R1', 'hvac.power', false);
    expect(hvac.coils[0]).toBe(false);
    expect(await t.router.write('R1', 'types.scaled', 100)).toMatchObject({ sent: 50, clamped: true });
    expect(types.holding[14]).toBe(180); // (50 + 40) / 0.5
    await t.router.write('R1', 'types.i32', -2);
    expect(types.holding.slice(4, 6)).toEqual([0xfffe, 0xffff]); // little word order, one FC16
    await t.router.write('R1', 'types.f32_big', 0.5);
    expect(types.holding.slice(12, 14)).toEqual([0x3f00, 0x0000]);
    await t.router.write('R1', 'types.state', 'on');
    expect(types.holding[15]).toBe(1);
    expect(t.gateway.frames.filter((f) => f.fc === 16).map((f) => `${f.address}+${f.count}`)).toEqual(['4+2', '12+2']);

    await waitFor(() => t.state('hvac.setpoint').value === 30 && t.state('hvac.mode').value === 'heat' && t.state('hvac.power').value === false, 15_000, 'hvac read-back');
    await waitFor(() => t.state('types.scaled').value === 50 && t.state('types.i32').value === -2 && t.state('types.f32_big').value === 0.5, 15_000, 'types read-back');

    const writes = () => t.gateway.frames.filter((f) => [5, 6, 15, 16].includes(f.fc)).length;
    const before = writes();
    await expectRejection(t.adapter.writePoint(t.point('types.i16'), 40000, 'cmd-big'), ErrorCode.PointValueInvalid);
    await expectRejection(t.router.write('R1', 'hvac.temperature', 20), ErrorCode.PointNotWritable);
    types.exceptions = { write: 0x03 };
    expect(await expectRejection(t.adapter.writePoint(t.point('types.u16'), 1, 'cmd-ex'), ErrorCode.ModbusException)).toMatch(/exception 3 \(illegal data value\)/);
    expect(writes()).toBe(before + 1); // only the last one reached the wire
  });

  it('sends a write right after the request in flight, ahead of every queued poll read', async () => {
    const clock = new ManualClock();
    const t = await setup({ 1: fcu(), 2: fau(), 3: typesUnit() }, [HVAC(1), FAU(2), TYPES(3)], { clock });
    await waitFor(() => ['hvac', 'fresh_air', 'types'].every((d) => t.polls(d) >= 1), 15_000, 'first polls');
    t.gateway.frames = [];
    clock.advance(5000); // three polls start: the first read goes out, the other two wait in the queue
    const write = t.adapter.writePoint(t.point('fresh_air.power'), false, 'cmd-jump');
    await write;
    await waitFor(() => ['hvac', 'fresh_air', 'types'].every((d) => t.polls(d) >= 2), 15_000, 'second polls');
    const order = t.gateway.frames.map((f) => `u${f.unit} fc${f.fc}`);
    // The write, then the read-back of its block only (coils), then the poll goes on unit by unit (u1 first: it was first in the period).
    expect(order.slice(0, 4)).toEqual(['u1 fc4', 'u2 fc5', 'u2 fc1', 'u1 fc3']);
    expect(t.gateway.units.get(2)!.coils[0]).toBe(false);
  });

  it('takes points offline when the gateway goes away and brings them back when it returns, without restarting the adapter', async () => {
    const t = await setup({ 1: fcu(), 2: fau() }, [HVAC(1, 200), FAU(2, 200)]);
    const all = () => t.store.roomPoints('R1');
    await waitFor(() => all().every((p) => p.quality === 'good'), 15_000, 'every point good');
    await t.gateway.stop();
    await waitFor(() => all().every((p) => p.quality === 'offline'), 15_000, 'every point offline');
    expect(t.store.deviceHealth('R1', 'hvac')).toMatchObject({ online: false });
    expect(t.store.deviceHealth('R1', 'hvac')!.lastError).toMatch(/connection|connect/);
    await expectRejection(t.adapter.writePoint(t.point('hvac.power'), false, 'cmd-down'), ErrorCode.ModbusNotConnected);

    t.gateway.units.get(1)!.input[0] = 205;
    await t.gateway.start(); // a new ServerTCP on the same port
    await waitFor(() => all().every((p) => p.quality === 'good'), 20_000, 'every point good again');
    expect(t.state('hvac.temperature').value).toBe(20.5);
    const link = Object.values(t.adapter.stats().links)[0]!;
    expect(link).toMatchObject({ connected: true });
    expect(link.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('rebuilds a connection on which no unit has answered three requests in a row, in case it is half-open', async () => {
    const t = await setup({ 5: { ...fcu(), dead: true } }, [HVAC(5, 100, 'dead')], { timeoutMs: 100 });
    await waitFor(() => Object.values(t.adapter.stats().links)[0]!.reconnects >= 1, 15_000, 'a reconnect');
    expect(t.gateway.connections).toBeGreaterThanOrEqual(2);
    expect(t.adapter.stats().devices['R1/dead']!.timeouts).toBeGreaterThanOrEqual(3);
    expect(t.store.deviceHealth('R1', 'dead')).toMatchObject({ online: false });
  });

  it('stop() rejects a write still waiting for its answer and closes the connection', async () => {
    const t = await setup({ 1: fcu(), 5: { ...fcu(), dead: true } }, [HVAC(1, 200), HVAC(5, 60_000, 'dead')], { timeoutMs: 5000 });
    await waitFor(() => t.state('hvac.temperature').quality === 'good' && t.gateway.openSockets() === 1, 15_000, 'connected');
    const pending = t.adapter.writePoint(t.point('dead.setpoint'), 21, 'cmd-stop');
    const rejected = expectRejection(pending, ErrorCode.ModbusNotConnected);
    await t.adapter.stop();
    expect(await rejected).toMatch(/adapter stopped/);
    await waitFor(() => t.gateway.openSockets() === 0, 15_000, 'socket closed');
    await expectRejection(t.adapter.writePoint(t.point('hvac.power'), true, 'cmd-after'), ErrorCode.ModbusNotConnected);
  });
});
