import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LibmodbusPeer } from './helpers/libmodbus-peer.ts';
import { ManualClock, modbusSite, profilesDirWith, startModbusRig, type ModbusRig } from './helpers/modbus-site.ts';
import { freePort, waitFor } from './helpers/wait.ts';

/**
 * Issue 12 against an independent Modbus implementation: libmodbus (C, Debian
 * libmodbus-dev) as a TCP gateway with several units behind one port. The vendor
 * unit is test/fixtures/acme-fc200.yaml (CDAB words, a control word of bits, FC16
 * only, reserved holding 3..7); the register words below are worked out by hand.
 */
const SENSOR = `
id: slow-sensor
name: Room sensor on a slow RS-485 segment
kind: air_quality
protocol: modbus
poll_ms: 5000
points:
  temperature: { type: number, min: -20, max: 60, stale_after_s: 30, modbus: { table: input, address: 0, type: int16, scale: 0.1 } }
  co2: { type: number, min: 0, max: 10000, stale_after_s: 30, modbus: { table: input, address: 1 } }
`;
let profiles: ReturnType<typeof profilesDirWith>;
beforeAll(() => {
  profiles = profilesDirWith({ 'acme-fc200': readFileSync(join(import.meta.dirname, 'fixtures/acme-fc200.yaml'), 'utf8'), 'slow-sensor': SENSOR });
});
afterAll(() => profiles.remove());

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Unit u as an FC-200 at 21.5 °C, 45.6 %, valve 40 %, 100000 h, setpoint 22.0, cool, medium, control word 0x8009. */
async function fc200(peer: LibmodbusPeer, u: number) {
  await peer.send(`set ${u} i 0 0x0000 0x41ac 456 0 0 0 40 0 0x86a0 0x0001`); // 21.5 = 0x41AC0000, CDAB; 100000 = 0x000186A0, CDAB
  await peer.send(`set ${u} h 0 220 1 2`);
  await peer.send(`set ${u} h 8 0x8009`); // run, eco, fault
  await peer.send(`refuse ${u} i 4`); // a reserved input register inside the first read
  await peer.send(`only16 ${u} 1`);
}

/** The peer is set up before the adapter starts, so the first poll already finds every unit as the test made it. */
async function rig(gatewayOptions: string, devices: string[], prepare: (peer: LibmodbusPeer) => Promise<unknown>, clock = new ManualClock()) {
  const port = await freePort();
  const peer = await LibmodbusPeer.tcp(port);
  cleanups.push(() => peer.stop());
  await prepare(peer);
  const site = modbusSite(profiles.dir, [`{ id: gw, tcp: { host: 127.0.0.1, port: ${port} }${gatewayOptions} }`], devices);
  const r = await startModbusRig(site, { clock });
  cleanups.push(() => r.stop());
  cleanups.push(() => expect(r.listenerErrors).toEqual([]));
  return { ...r, peer, clock };
}
const dev = (name: string, unit: number, profile = 'acme-fc200', extra = '') => `{ name: ${name}, profile: ${profile}, modbus: { gateway: gw, unit: ${unit}${extra} } }`;

/** One poll period on the virtual clock, then wait until each named device has made `polls` attempts. */
async function cycle(t: ModbusRig & { clock: ManualClock }, expected: Record<string, number>) {
  t.clock.advance(5000);
  for (const [name, n] of Object.entries(expected)) await waitFor(() => t.polls(name) >= n, 15_000, `${name} poll ${n}`);
}

describe('Modbus adapter against libmodbus', () => {
  it('reads a vendor unit’s CDAB floats, bit points and scaled registers, and splits once at the reserved register it refuses', async () => {
    const t = await rig('', [dev('hvac', 1)], (peer) => fc200(peer, 1));
    await waitFor(() => t.polls('hvac') >= 1 && t.good('hvac'), 15_000, 'first poll');
    const values = Object.fromEntries(t.store.roomPoints('R1').map((p) => [p.id, p.value]));
    expect(values).toEqual({
      'hvac.temperature': 21.5, 'hvac.humidity': 45.6, 'hvac.valve': 40, 'hvac.run_hours': 100000,
      'hvac.setpoint': 22, 'hvac.mode': 'cool', 'hvac.fan_speed': 'medium', 'hvac.power': true, 'hvac.eco': true, 'hvac.keylock': false, 'hvac.fault': true,
    });
    // input 0..9 was one read until the unit refused it; holding 3..7 never (no_read)
    expect(t.peer.requestsOf(1)).toEqual(['fc4 0+10', 'fc4 0+3', 'fc4 6+1', 'fc4 8+2', 'fc3 0+3', 'fc3 8+1']);
    t.peer.requests.length = 0;
    await cycle(t, { hvac: 2 });
    expect(t.peer.requestsOf(1)).toEqual(['fc4 0+3', 'fc4 6+1', 'fc4 8+2', 'fc3 0+3', 'fc3 8+1']);
    expect(t.device('hvac')).toMatchObject({ splits: 1, exceptions: 1, misses: 0 });
    expect(t.store.deviceHealth('R1', 'hvac')).toMatchObject({ online: true });
  });

  it('writes a unit that takes only FC16, clamps the setpoint, reads back only the written block, and keeps every bit of the control word', async () => {
    // The clock is never advanced: only writes and their read-backs reach the wire.
    const t = await rig('', [dev('hvac', 1)], (peer) => fc200(peer, 1));
    await waitFor(() => t.polls('hvac') >= 1 && t.good('hvac'), 15_000, 'first poll');
    t.peer.requests.length = 0;
    expect(await t.router.write('R1', 'hvac.setpoint', 40)).toMatchObject({ sent: 30, clamped: true }); // P5 safe max
    await waitFor(() => t.state('hvac.setpoint').value === 30, 15_000, 'setpoint read back');
    expect(await t.peer.get(1, 'h', 0)).toBe(300);
    expect(t.peer.requestsOf(1)).toEqual(['fc16 0+1', 'fc3 0+3']);

    t.peer.requests.length = 0;
    await t.router.write('R1', 'hvac.power', false); // read-modify-write: FC3, then FC16 of the whole word
    expect(await t.peer.get(1, 'h', 8)).toBe(0x8008);
    await waitFor(() => t.state('hvac.power').value === false, 15_000, 'power read back');
    expect(t.peer.requestsOf(1)).toEqual(['fc3 8+1', 'fc16 8+1', 'fc3 8+1']);

    // Three bits of one word at once: none of them may undo another.
    t.peer.requests.length = 0;
    await Promise.all([t.router.write('R1', 'hvac.power', true), t.router.write('R1', 'hvac.eco', false), t.router.write('R1', 'hvac.keylock', true)]);
    expect(await t.peer.get(1, 'h', 8)).toBe(0x8011); // fault (15) untouched, run (0) and key lock (4) on, eco (3) off
    await waitFor(() => t.state('hvac.keylock').value === true && t.state('hvac.eco').value === false && t.state('hvac.power').value === true, 15_000, 'bits read back');
    const fcs = t.peer.requestsOf(1);
    expect(fcs.filter((r) => r === 'fc16 8+1').length).toBe(2);
    expect(fcs.filter((r) => r === 'fc22 8+1').length).toBe(1); // the key lock: a mask write in the unit
    expect(fcs.some((r) => r.startsWith('fc6 '))).toBe(false);
    expect(fcs.some((r) => r.startsWith('fc4 '))).toBe(false); // no input read for a holding write
  });

  it('keeps polling the live units of a gateway at their period while a dead unit backs off, reports it offline after two misses, and has it back within one poll of answering', async () => {
    const t = await rig(', timeout_ms: 300', [dev('hvac', 1), dev('hvac2', 2), dev('dead', 3)], async (peer) => {
      for (const u of [1, 2, 3]) await fc200(peer, u);
    });
    await waitFor(() => ['hvac', 'hvac2', 'dead'].every((d) => t.polls(d) >= 1 && t.good(d)), 15_000, 'first polls');
    await t.peer.send('dead 3 1');
    const tries: number[] = [];
    // Tries of the dead unit by the backoff rule: after miss n it waits poll × 2^(n-1), at most 30 s:
    // t = 5 (miss 1, next ≥ 10), 10 (miss 2: offline, next ≥ 20), 20 (next ≥ 40), 40 (next ≥ 70).
    const expectedTries = new Set([5, 10, 20, 40]);
    let deadPolls = 1;
    for (let s = 5; s <= 40; s += 5) {
      const live = 1 + s / 5;
      if (expectedTries.has(s)) deadPolls++;
      t.peer.send(`set 1 i 6 ${s}`); // a new valve reading every period
      await cycle(t, { hvac: live, hvac2: live, dead: deadPolls });
      await waitFor(() => t.state('hvac.valve').value === s, 15_000, `hvac.valve ${s} at t=${s}`);
      if (t.device('dead').misses > tries.length) tries.push(s);
      if (s === 5) expect(t.store.deviceHealth('R1', 'dead')).toMatchObject({ online: true }); // one miss is not an outage
      if (s === 10) expect(t.store.deviceHealth('R1', 'dead')).toMatchObject({ online: false });
    }
    expect(tries).toEqual([5, 10, 20, 40]);
    expect(t.polls('dead')).toBe(5);
    expect(t.peer.requestsOf(3).slice(-4)).toEqual(['fc4 0+3', 'fc4 0+3', 'fc4 0+3', 'fc4 0+3']); // one request per try
    expect(t.store.roomPoints('R1').filter((p) => p.device === 'dead').every((p) => p.quality === 'offline')).toBe(true);
    expect(t.good('hvac') && t.good('hvac2')).toBe(true);
    expect(t.device('dead')).toMatchObject({ misses: 4 });

    await t.peer.send('dead 3 0');
    for (let s = 45; s <= 70; s += 5) await cycle(t, { hvac: 1 + s / 5, dead: s === 70 ? 6 : 5 });
    await waitFor(() => t.store.deviceHealth('R1', 'dead')?.online === true && t.good('dead'), 15_000, 'dead unit back');
    expect(t.device('dead').misses).toBe(0);
    await cycle(t, { hvac: 16, dead: 7 }); // its own period again at t = 75
    expect(t.polls('dead')).toBe(7);
  });

  it('reads a unit that answers in 1.5 s when its device timeout allows it, while the same slowness under the gateway’s timeout counts misses', async () => {
    const devices = [dev('hvac', 1), dev('patient', 4, 'slow-sensor', ', timeout_ms: 3000'), dev('hasty', 6, 'slow-sensor')];
    const t = await rig(', timeout_ms: 1000', devices, async (peer) => {
      await fc200(peer, 1);
      for (const u of [4, 6]) {
        await peer.send(`set ${u} i 0 215 650`);
        await peer.send(`delay ${u} 1500`);
      }
    });
    await waitFor(() => t.polls('hvac') >= 1 && t.polls('patient') >= 1 && t.polls('hasty') >= 1, 20_000, 'first polls');
    expect(t.state('patient.temperature')).toMatchObject({ value: 21.5, quality: 'good' });
    expect(t.state('patient.co2').value).toBe(650);
    expect(t.device('hasty')).toMatchObject({ misses: 1, timeouts: 1 });
    expect(t.device('hasty').lastError).toMatch(/unit 6 did not answer read input 0\+2 within 1000 ms/);
    await t.peer.send('set 1 i 6 55');
    await cycle(t, { hvac: 2, patient: 2, hasty: 2 });
    await waitFor(() => t.state('hvac.valve').value === 55, 20_000, 'hvac updated in the second period');
    expect(t.store.deviceHealth('R1', 'hasty')).toMatchObject({ online: false });
    expect(t.store.deviceHealth('R1', 'patient')).toMatchObject({ online: true });
  });

  it('sees a unit that reboots go offline and come back with its power-on registers, reported as they are', async () => {
    const t = await rig(', timeout_ms: 300', [dev('hvac', 5)], async (peer) => {
      await fc200(peer, 5);
      await peer.send('set 5 h 0 200');
      await peer.send('boot 5'); // power-on: setpoint 20.0
    });
    await waitFor(() => t.polls('hvac') >= 1 && t.good('hvac'), 15_000, 'first poll');
    await t.router.write('R1', 'hvac.setpoint', 23);
    await waitFor(() => t.state('hvac.setpoint').value === 23, 15_000, 'setpoint 23');
    await t.peer.send('reboot 5 600000');
    await cycle(t, { hvac: 2 });
    await cycle(t, { hvac: 3 });
    expect(t.store.deviceHealth('R1', 'hvac')).toMatchObject({ online: false });
    await t.peer.send('reboot 5 0'); // booted: answers again, from its power-on registers
    await cycle(t, { hvac: 3 }); // t = 15: still in backoff (next try at 20)
    await cycle(t, { hvac: 4 });
    await waitFor(() => t.store.deviceHealth('R1', 'hvac')?.online === true && t.good('hvac'), 15_000, 'back online');
    expect(t.state('hvac.setpoint').value).toBe(20);
    expect(await t.peer.get(5, 'h', 0)).toBe(200);
  });
});
