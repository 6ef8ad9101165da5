import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfigText } from '../src/config/load.ts';
import { EventBus } from '../src/model/bus.ts';
import { systemClock } from '../src/model/clock.ts';
import { RoomStateStore } from '../src/model/room-state.ts';
import type { PointUpdate } from '../src/model/points.ts';

const { site } = loadConfigText(`
site: { id: t, name: Test, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: R1
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, unit: 1 } }
      - { name: door, profile: door-mqtt, mqtt: { base: t/door } }
  - id: R2
    name: R2
    capacity: 4
    devices:
      - { name: door, profile: door-mqtt, mqtt: { base: t/R2/door } }
`);

describe('room state', () => {
  let bus: EventBus;
  let store: RoomStateStore;
  let events: PointUpdate[];
  const point = (id: string) => site!.rooms[0]!.devices.flatMap((d) => d.points).find((p) => p.id === id)!;

  beforeEach(() => {
    // Virtual time: the store's sweep runs on the injected clock, which fake timers drive.
    vi.useFakeTimers({ now: new Date('2026-11-23T09:00:00+08:00') });
    bus = new EventBus();
    store = new RoomStateStore(site!, bus, systemClock);
    events = [];
    bus.on('point', (e) => events.push(e));
    store.start();
  });
  afterEach(() => {
    store.stop();
    vi.useRealTimers();
  });

  it('lists a room’s points in its devices’ order (hvac, then door), each in its profile’s order, and none of another room’s', () => {
    const hvac = site!.rooms[0]!.devices[0]!.points.map((p) => p.id);
    const door = site!.rooms[0]!.devices[1]!.points.map((p) => p.id);
    expect(hvac[0]).toMatch(/^hvac\./);
    expect(door[0]).toMatch(/^door\./);
    expect(store.roomPoints('R1').map((p) => `${p.room}/${p.id}`)).toEqual([...hvac, ...door].map((id) => `R1/${id}`));
    expect(store.roomPoints('R2').map((p) => `${p.room}/${p.device}`)).toEqual(door.map(() => 'R2/door'));
    expect(store.roomPoints('nowhere')).toEqual([]);
  });

  it('starts every point offline with no value, never good', () => {
    expect(store.get('R1', 'hvac.temperature')).toMatchObject({ value: null, quality: 'offline' });
    expect(store.goodValue('R1', 'hvac.temperature')).toBeUndefined();
  });

  it('marks a point good on a reading and stale when no update arrives within its staleness window', () => {
    store.reading(point('hvac.temperature'), 22.5);
    expect(store.goodValue('R1', 'hvac.temperature')).toBe(22.5);
    vi.advanceTimersByTime(29_000);
    expect(store.get('R1', 'hvac.temperature')!.quality).toBe('good');
    vi.advanceTimersByTime(3_000); // fcu-modbus: stale_after_s 30
    expect(store.get('R1', 'hvac.temperature')).toMatchObject({ value: 22.5, quality: 'stale' });
    expect(store.goodValue('R1', 'hvac.temperature')).toBeUndefined();
    expect(events.map((e) => e.quality)).toEqual(['good', 'stale']);
  });

  it('marks every point of a device offline when the device stops answering, and emits one event per change', () => {
    store.reading(point('door.contact'), 'closed');
    store.reading(point('door.locked'), false);
    store.deviceStatus('R1', 'door', true);
    store.deviceStatus('R1', 'door', false, { error: 'availability: offline' });
    expect(store.get('R1', 'door.contact')!.quality).toBe('offline');
    expect(store.goodValue('R1', 'door.locked')).toBeUndefined();
    expect(store.deviceHealth('R1', 'door')).toMatchObject({ online: false, errors: 1, lastError: 'availability: offline' });
    store.reading(point('door.contact'), 'closed');
    expect(store.get('R1', 'door.contact')!.quality).toBe('good');
    expect(events.filter((e) => e.point === 'door.contact').map((e) => e.quality)).toEqual(['good', 'offline', 'good']);
  });

  it('does not emit an event when a repeated reading changes nothing but keeps the point fresh', () => {
    store.reading(point('hvac.setpoint'), 23);
    vi.advanceTimersByTime(20_000);
    store.reading(point('hvac.setpoint'), 23);
    vi.advanceTimersByTime(20_000);
    expect(store.get('R1', 'hvac.setpoint')!.quality).toBe('good');
    expect(events.filter((e) => e.point === 'hvac.setpoint')).toHaveLength(1);
  });

  it('keeps delivering events to other listeners when one listener throws', () => {
    const errors: unknown[] = [];
    const guarded = new EventBus((_event, err) => errors.push(err));
    const seen: string[] = [];
    guarded.on('point', () => {
      throw new Error('boom');
    });
    guarded.on('point', (e) => seen.push(e.point));
    const s2 = new RoomStateStore(site!, guarded, systemClock);
    s2.reading(point('hvac.power'), true);
    expect(seen).toEqual(['hvac.power']);
    expect(errors).toHaveLength(1);
  });
});
