import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../src/adapters/broker.ts';
import { MqttAdapter } from '../src/adapters/mqtt.ts';
import { loadConfigText } from '../src/config/load.ts';
import { silentLogger } from '../src/log.ts';
import { EventBus } from '../src/model/bus.ts';
import { RoomStateStore } from '../src/model/room-state.ts';
import { STATE_INTERVAL_MS, StatePublisher } from '../src/model/state-publisher.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The retained room state topic (`roomctl/<site>/rooms/<room>/state`) is published
 * coalesced (issue 13, item 5): at most once per room per 250 ms of clock time, always
 * the latest state, a trailing publish for the last change, a flush on stop. Over real
 * sockets: the in-process aedes broker, roomctl's MQTT adapter publishing, a plain
 * mqtt.js client subscribed. The clock is a stepped VirtualClock — the engine's own
 * clock abstraction — so the intervals are exact and no test waits on real time.
 */
const { site } = loadConfigText(`
site: { id: co, name: Coalesce Test, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Room 1
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, unit: 1 } }
  - id: R2
    name: Room 2
    capacity: 4
    devices:
      - { name: door, profile: door-mqtt, mqtt: { base: co/R2/door } }
`);
const PREFIX = 'roomctl/co';
const MARKER = `${PREFIX}/test-marker`;

interface Received {
  room: string;
  temperature: unknown;
  ts: number;
  /** The payload as it arrived. */
  raw: string;
}

let broker: EmbeddedBroker;
let adapter: MqttAdapter;
let subscriber: MqttClient;
let clock: VirtualClock;
let bus: EventBus;
let store: RoomStateStore;
let publisher: StatePublisher;
let received: Received[];
let markers: number;
const temperature = site!.rooms[0]!.devices[0]!.points.find((p) => p.id === 'hvac.temperature')!;

/** Every state message sent so far has arrived: a marker published after them on the same connection arrives after them. */
async function settled(): Promise<Received[]> {
  const want = ++markers;
  await adapter.publish(MARKER, String(want), { qos: 1 });
  await waitFor(() => seenMarkers >= want, 10_000, `marker ${want}`);
  return received.splice(0);
}
let seenMarkers = 0;

beforeEach(async () => {
  clock = VirtualClock.stepped(Date.parse('2026-12-03T09:00:00+08:00'));
  broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: silentLogger });
  subscriber = await mqtt.connectAsync(broker.url, { clientId: 'coalesce-subscriber', reconnectPeriod: 0 });
  received = [];
  markers = 0;
  seenMarkers = 0;
  subscriber.on('message', (topic, payload) => {
    if (topic === MARKER) return void (seenMarkers = Number(payload.toString()));
    const body = JSON.parse(payload.toString()) as { room: string; ts: number; points: Record<string, { value: unknown }> };
    received.push({ room: body.room, temperature: body.points['hvac.temperature']?.value, ts: body.ts, raw: payload.toString() });
  });
  await subscriber.subscribeAsync([`${PREFIX}/rooms/+/state`, MARKER], { qos: 1 });
  bus = new EventBus();
  store = new RoomStateStore(site!, bus, clock);
  adapter = new MqttAdapter({ url: broker.url, clientId: 'coalesce-roomctl', sitePrefix: PREFIX, reconnect: { minMs: 100, maxMs: 1000 } }, [], store, bus, clock, silentLogger);
  await adapter.start();
  publisher = new StatePublisher(site!, store, bus, clock, adapter, PREFIX);
  publisher.start();
  await clock.advance(0);
  // The start publishes every room once (a new subscriber sees them retained anyway).
  expect((await settled()).map((r) => r.room).sort()).toEqual(['R1', 'R2']);
});

afterEach(async () => {
  await publisher?.stop();
  await adapter?.stop();
  await subscriber?.endAsync();
  await broker?.close();
});

describe('room state topic, coalesced (issue 13, item 5)', () => {
  it('publishes a single change after a quiet interval at the same clock instant, with its value', async () => {
    await clock.advance(STATE_INTERVAL_MS);
    store.reading(temperature, 23.5);
    await clock.advance(0); // fires what is due now, moves no time
    const got = await settled();
    expect(got.map(({ raw, ...r }) => r)).toEqual([{ room: 'R1', temperature: 23.5, ts: clock.now() }]);
  });

  it('writes the payload as exactly the JSON of the room’s snapshot: values, qualities, timestamps, devices, in the same key order (issue 14)', async () => {
    await clock.advance(STATE_INTERVAL_MS);
    const door = site!.rooms[1]!.devices[0]!.points;
    const contact = door.find((p) => p.def.type === 'enum')!;
    const bool = door.find((p) => p.def.type === 'boolean')!;
    store.reading(temperature, -0.5);
    store.deviceStatus('R1', 'hvac', true, { error: 'timeout "unit 1"' });
    store.deviceStatus('R2', 'door', true);
    store.reading(contact, contact.def.values![0]!);
    store.reading(bool, true);
    await clock.advance(0);
    const got = await settled();
    expect(got.map((r) => r.room).sort()).toEqual(['R1', 'R2']);
    for (const r of got) expect(r.raw).toBe(JSON.stringify(publisher.snapshot(r.room)));
    // The snapshot itself holds what was set: a negative decimal, a stale-free good value, an offline point's null.
    const r1 = JSON.parse(got.find((r) => r.room === 'R1')!.raw) as { points: Record<string, { value: unknown; quality: string; ts: number | null }>; devices: Record<string, unknown> };
    expect(r1.points['hvac.temperature']).toEqual({ value: -0.5, quality: 'good', ts: clock.now() });
    expect(Object.values(r1.points).filter((p) => p.value === null).every((p) => p.quality === 'offline' && p.ts === null)).toBe(true);
    expect(r1.devices).toEqual({ hvac: { online: true, errors: 1 } });
  });

  it('publishes a synchronous burst of 100 point changes as one message carrying the final value', async () => {
    await clock.advance(STATE_INTERVAL_MS);
    for (let i = 0; i < 100; i++) store.reading(temperature, 20 + i / 10);
    await clock.advance(STATE_INTERVAL_MS * 4);
    expect((await settled()).map(({ raw, ...r }) => r)).toEqual([{ room: 'R1', temperature: 29.9, ts: Date.parse('2026-12-03T09:00:00.250+08:00') }]);
  });

  it('publishes 100 changes spread over a second of clock time at most once per 250 ms, the trailing publish carrying the last value', async () => {
    await clock.advance(STATE_INTERVAL_MS);
    const t0 = clock.now();
    // A change every 10 ms from t0 to t0+990: the first at once, then one publish at the end of each 250 ms interval.
    for (let i = 0; i < 100; i++) {
      store.reading(temperature, 20 + i / 10);
      await clock.advance(10);
    }
    const got = await settled();
    expect(got.map((r) => r.ts - t0)).toEqual([0, 250, 500, 750, 1000]);
    // Each carries the latest value at its instant: the changes at t0+240, +490, +740 and the very last one (+990).
    expect(got.map((r) => r.temperature)).toEqual([20, 22.4, 24.9, 27.4, 29.9]);
    expect(got.at(-1)!.temperature).toBe(29.9);
  });

  it('keeps rooms apart: a burst in one room neither delays nor swallows another room’s change', async () => {
    await clock.advance(STATE_INTERVAL_MS);
    store.reading(temperature, 21);
    store.deviceStatus('R2', 'door', true);
    await clock.advance(0);
    expect((await settled()).map((r) => r.room).sort()).toEqual(['R1', 'R2']);
  });

  it('publishes trailing changes on the 10 ms batch grid together with the other rooms due then, never before a room’s own 250 ms are over (issue 14)', async () => {
    await clock.advance(STATE_INTERVAL_MS);
    const t0 = clock.now(); // on the grid: the test clock starts on a whole second
    store.reading(temperature, 21); // R1 published at t0
    await clock.advance(3);
    store.deviceStatus('R2', 'door', true); // R2 published at t0+3
    await clock.advance(2);
    store.reading(temperature, 22); // R1's interval ends at t0+250, on the grid
    store.deviceStatus('R2', 'door', false); // R2's ends at t0+253: rounded up to t0+260
    await clock.advance(STATE_INTERVAL_MS - 5 - 1); // t0+249: neither is due yet
    expect((await settled()).map((r) => [r.room, r.ts - t0])).toEqual([
      ['R1', 0],
      ['R2', 3],
    ]);
    await clock.advance(1); // t0+250
    expect((await settled()).map((r) => [r.room, r.ts - t0, r.temperature])).toEqual([['R1', 250, 22]]);
    await clock.advance(9); // t0+259
    expect(await settled()).toEqual([]);
    // A change R1 makes now waits for R1's own interval (t0+500); R2 goes out at t0+260.
    store.reading(temperature, 23);
    await clock.advance(1);
    expect((await settled()).map((r) => [r.room, r.ts - t0])).toEqual([['R2', 260]]);
    await clock.advance(STATE_INTERVAL_MS);
    expect((await settled()).map((r) => [r.room, r.ts - t0, r.temperature])).toEqual([['R1', 500, 23]]);
  });

  it('flushes a change still waiting for its interval when it stops, so the last state is not lost on shutdown', async () => {
    await clock.advance(STATE_INTERVAL_MS);
    store.reading(temperature, 22);
    store.reading(temperature, 22); // same value: no point event, nothing more to publish
    await clock.advance(0);
    expect((await settled()).map(({ raw, ...r }) => r)).toEqual([{ room: 'R1', temperature: 22, ts: clock.now() }]);
    await clock.advance(100);
    store.reading(temperature, 26.5); // inside the interval: waits for its trailing publish at +250
    expect(await settled()).toEqual([]);
    await publisher.stop();
    expect((await settled()).map(({ raw, ...r }) => r)).toEqual([{ room: 'R1', temperature: 26.5, ts: clock.now() }]);
    // Stopped: nothing more is published, and no timer is left on the clock.
    store.reading(temperature, 30);
    await clock.advance(STATE_INTERVAL_MS * 2);
    expect(await settled()).toEqual([]);
  });
});
