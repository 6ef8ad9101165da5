import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedDevice } from '../src/model/devices.ts';
import type { PointValue } from '../src/model/points.ts';
import { ModbusGateway } from '../../devices/sim/modbus-gateway.ts';
import { RegisterMap } from '../../devices/sim/register-map.ts';
import { BaseDevice, type RoomEnvironment } from '../../devices/sim/sim-device.ts';
import { SimStats } from '../../devices/sim/stats.ts';
import { ManualClock, modbusSite, profilesDirWith, startModbusRig } from './helpers/modbus-site.ts';
import { freePort, waitFor } from './helpers/wait.ts';

/**
 * The simulator's Modbus side (devices/sim/register-map.ts behind its ServerTCP
 * gateway) lays registers out from a profile on its own code, not the controller's
 * codec: serving the FC-200 profile (CDAB words, a control word of bits), the
 * adapter must read the model's values and its writes must reach only the points
 * they meant. The registers it serves are checked against hand-computed words too.
 */
class Unit extends BaseDevice {
  constructor(device: ResolvedDevice, values: Record<string, PointValue>) {
    super(device, undefined as unknown as RoomEnvironment); // a plain unit: no physics, so no room air
    for (const [k, v] of Object.entries(values)) this.initial(k, v);
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

describe('the simulator serving a profile with byte order and bit fields', () => {
  it('serves the FC-200 registers as the vendor lays them out, and applies a bit write to that bit only', async () => {
    const port = await freePort();
    const site = modbusSite(profiles.dir, [`{ id: gw, tcp: { host: 127.0.0.1, port: ${port} } }`], ['{ name: hvac, profile: acme-fc200, modbus: { gateway: gw, unit: 1 } }']);
    const device = site.rooms[0]!.devices[0]!;
    const model = new Unit(device, { temperature: 21.5, humidity: 45.6, valve: 40, run_hours: 100000, setpoint: 22, mode: 'cool', fan_speed: 'medium', power: true, eco: true, keylock: false, fault: true });
    const map = new RegisterMap(model);
    // 21.5 = 0x41AC0000 and 100000 = 0x000186A0, both CDAB; control word bits 0, 3 and 15.
    expect([0, 1, 2, 6, 8, 9].map((a) => map.readWord('input', a))).toEqual([0x0000, 0x41ac, 456, 40, 0x86a0, 0x0001]);
    expect([0, 1, 2, 8].map((a) => map.readWord('holding', a))).toEqual([220, 1, 2, 0x8009]);
    expect(() => map.readWord('input', 4)).toThrow(/no input register 4/);

    const gateway = new ModbusGateway('127.0.0.1', port, new Map([[1, { map, silent: () => false }]]), new SimStats());
    await gateway.start();
    cleanups.push(() => gateway.stop());
    const t = await startModbusRig(site, { clock: new ManualClock() });
    cleanups.push(() => t.stop());
    await waitFor(() => t.polls('hvac') >= 1 && t.good('hvac'), 15_000, 'first poll');
    expect(t.store.roomPoints('R1').map((p) => [p.id, p.value])).toEqual(device.points.map((p) => [p.id, model.read(p.id.slice(5))]));
    await t.router.write('R1', 'hvac.eco', false);
    await t.router.write('R1', 'hvac.setpoint', 24.5);
    expect([model.read('eco'), model.read('power'), model.read('fault'), model.read('setpoint')]).toEqual([false, true, true, 24.5]);
    expect(map.readWord('holding', 8)).toBe(0x8001);
  });
});
