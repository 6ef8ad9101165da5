import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibmodbusPeer } from './helpers/libmodbus-peer.ts';
import { ManualClock, modbusSite, profilesDirWith, startModbusRig, type ModbusRig } from './helpers/modbus-site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Modbus RTU over a real serial line: socat (Debian package; ensure-services installs
 * it) joins two pseudo-terminals; libmodbus answers as unit 7 on one end, roomctl's
 * RTU gateway opens the other at 19200 8N1. (A second, absent unit on the line is not
 * tried here: a libmodbus slave parses the frame after a request to another unit as that
 * unit's reply, so a request nobody answers desynchronises it. The shared-gateway dead
 * unit is the TCP tests' case.)
 */
let dir: string;
let socat: ChildProcess;
let peer: LibmodbusPeer;
let profiles: ReturnType<typeof profilesDirWith>;
let t: ModbusRig & { clock: ManualClock };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'roomctl-rtu-'));
  profiles = profilesDirWith({ 'acme-fc200': readFileSync(join(import.meta.dirname, 'fixtures/acme-fc200.yaml'), 'utf8') });
  socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${dir}/unit`, `pty,raw,echo=0,link=${dir}/roomctl`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  socat.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  socat.once('error', (e) => (err += String(e)));
  await waitFor(() => existsSync(`${dir}/unit`) && existsSync(`${dir}/roomctl`), 10_000, `socat's pseudo-terminals (${err || 'no output'})`);
  peer = await LibmodbusPeer.rtu(`${dir}/unit`, 19200, 7);
  await peer.send('set 7 i 0 0x0000 0x41ac 456 0 0 0 40 0 0x86a0 0x0001');
  await peer.send('set 7 h 0 220 1 2');
  await peer.send('set 7 h 8 0x8009');
  const clock = new ManualClock();
  const site = modbusSite(
    profiles.dir,
    [`{ id: bus1, rtu: { path: ${dir}/roomctl, baud_rate: 19200 }, timeout_ms: 500 }`],
    ['{ name: hvac, profile: acme-fc200, modbus: { gateway: bus1, unit: 7 } }'],
  );
  t = { ...(await startModbusRig(site, { clock })), clock };
}, 30_000);

afterAll(async () => {
  await t?.stop();
  await peer?.stop();
  socat?.kill('SIGTERM');
  profiles?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe('Modbus RTU over a socat pseudo-terminal pair, libmodbus on the other end', () => {
  it('reads every point of the unit through CRC-checked RTU frames', async () => {
    await waitFor(() => t.polls('hvac') >= 1 && t.good('hvac'), 20_000, 'first RTU poll');
    expect(t.state('hvac.temperature').value).toBe(21.5);
    expect(t.state('hvac.run_hours').value).toBe(100000);
    expect(t.state('hvac.humidity').value).toBe(45.6);
    expect(t.state('hvac.mode').value).toBe('cool');
    expect(t.state('hvac.fault').value).toBe(true);
    expect(peer.requestsOf(7).slice(0, 3)).toEqual(['fc4 0+10', 'fc3 0+3', 'fc3 8+1']);
  });

  it('writes a setpoint with FC16 and one bit of the control word by read-modify-write, over the line', async () => {
    await t.router.write('R1', 'hvac.setpoint', 21);
    expect(await peer.get(7, 'h', 0)).toBe(210);
    await t.router.write('R1', 'hvac.eco', false);
    expect(await peer.get(7, 'h', 8)).toBe(0x8001);
    await waitFor(() => t.state('hvac.setpoint').value === 21 && t.state('hvac.eco').value === false, 20_000, 'read-back over RTU');
  });

  it('takes the unit offline after two silent polls on the line and has it back at the first poll it answers', async () => {
    await peer.send('dead 7 1');
    const start = t.polls('hvac');
    t.clock.advance(5000);
    await waitFor(() => t.device('hvac').misses === 1, 20_000, 'first miss');
    expect(t.store.deviceHealth('R1', 'hvac')).toMatchObject({ online: true });
    t.clock.advance(5000);
    await waitFor(() => t.store.deviceHealth('R1', 'hvac')?.online === false, 20_000, 'offline after the second miss');
    expect(t.device('hvac').lastError).toMatch(/unit 7 did not answer read input 0\+10 within 500 ms/);
    await peer.send('dead 7 0');
    await peer.send('set 7 i 6 77');
    t.clock.advance(10_000); // the backoff's next try (10 s after the second miss)
    await waitFor(() => t.store.deviceHealth('R1', 'hvac')?.online === true && t.state('hvac.valve').value === 77, 20_000, 'back online');
    expect(t.polls('hvac')).toBe(start + 3);
  });
});
