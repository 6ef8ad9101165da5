import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, RoomctlError } from '../src/errors.ts';
import type { DeviceAdapter } from '../src/model/adapter.ts';
import { systemClock, type Clock } from '../src/model/clock.ts';
import { CommandRouter } from '../src/model/commands.ts';
import type { ResolvedPoint } from '../src/model/devices.ts';
import type { AlertEvent } from '../src/model/events.ts';
import type { PointValue } from '../src/model/points.ts';
import type { RoomStateStore } from '../src/model/room-state.ts';
import { AlertBook } from '../src/engine/alerts/alert-book.ts';
import { Enforcer } from '../src/engine/reconcile/enforcement.ts';
import { testSite } from './helpers/site.ts';

/**
 * A UNIT test of the enforcer's logic (write → read back → retry → alert, lock safety).
 * The devices here are a tiny in-test loop that answers writes by reporting the value
 * into a real RoomStateStore, through the real CommandRouter (so clamping is the real
 * one). It is not a peer: the end-to-end proof against simulated devices over real
 * MQTT and Modbus sockets belongs to the engine integration test.
 */
class DeviceLoop implements DeviceAdapter {
  readonly devices = [];
  writes: string[] = [];
  /** Points whose device accepts writes but never reports the new value. */
  deaf = new Set<string>();
  failNextWrites = 0;
  constructor(
    readonly protocol: 'mqtt' | 'modbus',
    private store: RoomStateStore,
    private clock: Clock,
  ) {}
  async start() {}
  async stop() {}
  async writePoint(point: ResolvedPoint, value: PointValue) {
    this.writes.push(`${point.id}=${value}`);
    if (this.failNextWrites > 0) {
      this.failNextWrites--;
      throw new RoomctlError(ErrorCode.WriteFailed, 'connection reset by peer');
    }
    if (!this.deaf.has(point.id)) this.clock.setTimeout(() => this.store.reading(point, value), 300);
  }
}

const YAML = `
site: { id: t, name: Test, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Room 1
    capacity: 10
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, unit: 1 } }
      - { name: display, profile: display-mqtt, mqtt: { base: t/R1/display } }
      - { name: door, profile: door-mqtt, mqtt: { base: t/R1/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: t/R1/occupancy } }
      - { name: fire, profile: fire-alarm-mqtt, mqtt: { base: t/R1/fire } }
`;

describe('enforcement', () => {
  let env: ReturnType<typeof testSite>;
  let mqtt: DeviceLoop;
  let modbus: DeviceLoop;
  let alerts: AlertEvent[];
  let enforcer: Enforcer;
  const point = (id: string) => env.site.rooms[0]!.devices.flatMap((d) => d.points).find((p) => p.id === id)!;
  const report = (values: Record<string, PointValue>) => Object.entries(values).forEach(([id, v]) => env.store.reading(point(id), v));
  /** Starts an apply, lets virtual time run until it settles, and returns its outcome. */
  const run = async <T>(p: Promise<T>) => {
    let done = false;
    void p.finally(() => (done = true));
    for (let i = 0; i < 200 && !done; i++) await vi.advanceTimersByTimeAsync(1000);
    return p;
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-11-23T17:00:00+08:00') });
    env = testSite(YAML, systemClock);
    mqtt = new DeviceLoop('mqtt', env.store, systemClock);
    modbus = new DeviceLoop('modbus', env.store, systemClock);
    alerts = [];
    env.bus.on('alert', (e) => alerts.push(e));
    const writer = new CommandRouter(env.site, [mqtt, modbus], env.bus, systemClock);
    enforcer = new Enforcer({ rooms: env.site.rooms, state: env.store, bus: env.bus, writer, clock: systemClock, alerts: new AlertBook(env.bus, systemClock), verifyTimeoutMs: 10_000 });
  });
  afterEach(() => {
    enforcer.stop();
    vi.useRealTimers();
    expect(env.listenerErrors).toEqual([]);
  });

  it('P2: writes a point and confirms it only once the room state shows the value, fresh', async () => {
    const outcome = await run(enforcer.apply('R1', 'display.power', true, { meetingId: 'M1', minutesToStart: 30 }));
    expect(outcome).toMatchObject({ point: 'display.power', sent: true, confirmed: true, attempts: 1, observed: true });
    expect(mqtt.writes).toEqual(['display.power=true']);
    expect(alerts).toEqual([]);
  });

  it('P5: clamps a setpoint into the profile safe limits and verifies the clamped value', async () => {
    const outcome = await run(enforcer.apply('R1', 'hvac.setpoint', 35));
    expect(outcome).toMatchObject({ requested: 35, sent: 30, clamped: true, confirmed: true });
    expect(modbus.writes).toEqual(['hvac.setpoint=30']);
  });

  it('retries with backoff when the device never shows the value, raises one alert naming the point, and clears it after a confirmed write', async () => {
    mqtt.deaf.add('display.power');
    const failed = await run(enforcer.apply('R1', 'display.power', true, { meetingId: 'M1', minutesToStart: 20 }));
    expect(failed).toMatchObject({ confirmed: false, attempts: 3, observed: null });
    expect(failed.reason).toMatch(/not confirmed: read back nothing within 10 s/);
    expect(mqtt.writes).toEqual(['display.power=true', 'display.power=true', 'display.power=true']);
    expect(alerts.map((a) => [a.state, a.check, a.meetingId])).toEqual([['raised', 'write:display.power', 'M1']]);
    await run(enforcer.apply('R1', 'display.power', true, { meetingId: 'M1', minutesToStart: 5 })); // still deaf: no second alert
    expect(alerts).toHaveLength(1);
    mqtt.deaf.clear();
    await run(enforcer.apply('R1', 'display.power', true, { meetingId: 'M1', minutesToStart: 4 }));
    expect(alerts.map((a) => a.state)).toEqual(['raised', 'cleared']);
  });

  it('writes again after a transport error and succeeds, without an alert', async () => {
    modbus.failNextWrites = 1;
    const outcome = await run(enforcer.apply('R1', 'hvac.power', true));
    expect(outcome).toMatchObject({ confirmed: true, attempts: 2 });
    expect(alerts).toEqual([]);
  });

  it('does not retry a write that can never succeed (a read-only point)', async () => {
    const outcome = await run(enforcer.apply('R1', 'hvac.temperature', 21));
    expect(outcome).toMatchObject({ confirmed: false, attempts: 1 });
    expect(outcome.reason).toMatch(/read-only/);
  });

  it('P7 safety: never locks the door while the room is occupied, while the fire alarm is active, or while either is unknown', async () => {
    report({ 'fire.active': false, 'occupancy.present': true, 'occupancy.count': 3, 'door.locked': false });
    expect(await run(enforcer.apply('R1', 'door.locked', true))).toMatchObject({ confirmed: false, attempts: 0, reason: 'refused: room occupied' });
    report({ 'occupancy.present': false, 'occupancy.count': 0, 'fire.active': true });
    expect((await run(enforcer.apply('R1', 'door.locked', true))).reason).toBe('refused: fire alarm fire is active');
    report({ 'fire.active': false });
    env.store.deviceStatus('R1', 'occupancy', false);
    expect((await run(enforcer.apply('R1', 'door.locked', true))).reason).toBe('refused: occupancy unknown (occupancy offline)');
    expect(mqtt.writes.filter((w) => w.startsWith('door.locked'))).toEqual([]);
    // Empty room, no alarm: it locks. Unlocking is allowed whatever the alarm says.
    report({ 'occupancy.present': false, 'occupancy.count': 0 });
    expect(await run(enforcer.apply('R1', 'door.locked', true))).toMatchObject({ confirmed: true });
    report({ 'fire.active': true });
    expect(await run(enforcer.apply('R1', 'door.locked', false))).toMatchObject({ confirmed: true });
  });

  it('applies a list of writes in order, each confirmed before the next', async () => {
    const outcomes = await run(enforcer.applyAll('R1', [{ set: 'hvac.power', value: true }, { set: 'hvac.mode', value: 'heat' }, { set: 'hvac.setpoint', value: 21 }]));
    expect(outcomes.map((o) => o.confirmed)).toEqual([true, true, true]);
    expect(modbus.writes).toEqual(['hvac.power=true', 'hvac.mode=heat', 'hvac.setpoint=21']);
  });
});
