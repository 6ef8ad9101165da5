import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../src/adapters/broker.ts';
import { ModbusAdapter } from '../src/adapters/modbus.ts';
import { MqttAdapter } from '../src/adapters/mqtt.ts';
import type { Site } from '../src/config/load.ts';
import { silentLogger } from '../src/log.ts';
import { EventBus } from '../src/model/bus.ts';
import { CommandRouter } from '../src/model/commands.ts';
import type { PointValue, Quality } from '../src/model/points.ts';
import { RoomStateStore } from '../src/model/room-state.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { SimulatedBuilding, type SimHistory } from '../../devices/sim/building.ts';
import { deliveryWatch, freePort, quietSettle } from '../../devices/sim/harness.ts';
import { simulationStart } from '../../devices/sim/meetings.ts';
import { SimDay } from '../src/cli/sim-day.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Virtual time and determinism (issue 3): the controller and the simulated
 * building share one stepped VirtualClock and talk over real sockets (embedded
 * broker, Modbus TCP). "Identical histories" means: for every point, the ordered
 * list of (virtual ms, value[, quality]) changes is the same. The order between
 * *different* points at one instant is not part of it: deliveries over separate
 * connections have no defined order, in a real building or here.
 */

const MINUTE = 60_000;

describe('VirtualClock', () => {
  it('fires due timers in time order, ties in the order they were set, and lets I/O settle between batches', async () => {
    const clock = VirtualClock.stepped(Date.UTC(2025, 6, 16, 0, 0));
    const start = clock.now();
    const log: string[] = [];
    clock.setTimeout(() => log.push('b@20'), 20);
    clock.setTimeout(() => log.push('a@10'), 10);
    clock.setTimeout(() => log.push('c@20'), 20);
    const cancelled = clock.setTimeout(() => log.push('never'), 15);
    clock.clearTimeout(cancelled);
    clock.setTimeout(() => {
      log.push('d@10');
      clock.setTimeout(() => log.push('e@10+0'), 0);
    }, 10);
    await clock.advance(30, async () => {
      log.push(`settle@${clock.now() - start}`);
    });
    expect(log).toEqual(['a@10', 'd@10', 'settle@10', 'e@10+0', 'settle@10', 'b@20', 'c@20', 'settle@20']);
    expect(clock.now() - start).toBe(30);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stands still in stepped mode until advanced, and a sleep resolves only when its time comes', async () => {
    const clock = VirtualClock.stepped(1_000_000);
    let woke = false;
    const sleeping = clock.sleep(5 * MINUTE).then(() => (woke = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(clock.now()).toBe(1_000_000);
    expect(woke).toBe(false);
    await clock.advance(5 * MINUTE);
    await sleeping;
    expect(woke).toBe(true);
  });

  it('runs at N times real time in running mode, never firing a timer before its virtual time', async () => {
    const clock = VirtualClock.running(1_000_000, 600);
    const due = clock.now() + 30_000;
    const firedAt = await new Promise<number>((resolve) => clock.setTimeout(() => resolve(clock.now()), 30_000));
    expect(firedAt).toBeGreaterThanOrEqual(due);
    await expect(clock.advance(1000)).rejects.toThrow(/stepped/);
  });
});

/** A test building: three rooms, two Modbus gateways, the day's meetings including a no-show. */
async function buildingYaml(): Promise<string> {
  const [gwA, gwB, gwC] = [await freePort(), await freePort(), await freePort()];
  return `
site: { id: det, name: Determinism, timezone: Asia/Shanghai }
modbus:
  gateways:
    - { id: gw-a, tcp: { host: 127.0.0.1, port: ${gwA} }, timeout_ms: 1000 }
    - { id: gw-b, tcp: { host: 127.0.0.1, port: ${gwB} }, timeout_ms: 1000 }
    - { id: gw-c, tcp: { host: 127.0.0.1, port: ${gwC} }, timeout_ms: 1000 }
rooms:
  - id: R-20
    name: Twenty
    capacity: 20
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-a, unit: 1, poll_ms: 15000 } }
      - { name: fresh_air, profile: fau-modbus, modbus: { gateway: gw-a, unit: 2, poll_ms: 15000 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: det/R-20/lights }, channels: { zone: [main, board] } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: det/R-20/dsp }, channels: { mic: 4 } }
      - { name: door, profile: door-mqtt, mqtt: { base: det/R-20/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: det/R-20/occupancy } }
      - { name: display, profile: display-mqtt, mqtt: { base: det/R-20/display } }
      - { name: window, profile: window-mqtt, mqtt: { base: det/R-20/window } }
      - { name: air, profile: air-quality-mqtt, mqtt: { base: det/R-20/air } }
  - id: R-8
    name: Eight
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-b, unit: 1, poll_ms: 15000 } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: det/R-8/dsp }, channels: { mic: 2 } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: det/R-8/occupancy } }
      - { name: boiler, profile: boiler-mqtt, mqtt: { base: det/R-8/boiler } }
      - { name: air, profile: air-quality-mqtt, mqtt: { base: det/R-8/air } }
  - id: R-40
    name: Forty
    capacity: 40
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-c, unit: 2, poll_ms: 15000 } }
      - { name: hvac2, profile: fcu-modbus, modbus: { gateway: gw-c, unit: 3, poll_ms: 15000 } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: det/R-40/occupancy } }
      - { name: door, profile: door-mqtt, mqtt: { base: det/R-40/door } }
simulation:
  seed: 4242
  day: 2025-07-16
  start: "07:00"
  rooms:
    R-20: { wireless_mics: [4] }
  meetings:
    - { id: m1, room: R-20, start: "07:40", end: "08:15", level: vip3, attendees: 14 }
    - { id: m2, room: R-8, start: "07:30", end: "07:50", attendees: 6 }
    - { id: m3, room: R-8, start: "07:50", end: "08:10", attendees: 4 }
    - { id: m4, room: R-40, start: "07:50", end: "08:20", attendees: 30, no_show: true }
`;
}

interface Run {
  sim: SimHistory;
  /** Per `room/point`: the controller's point events as [virtual ms, value, quality]. */
  controller: Record<string, [number, PointValue | null, Quality][]>;
  /** Publishes and Modbus frames, to show the run was not idle. */
  traffic: { published: number; framesAnswered: number; commands: number };
}

const running: { stop: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

/** Plays 07:00–08:26 of the test day with a scripted controller, over real sockets. */
async function playDay(site: Site, seed?: number): Promise<Run> {
  const clock = VirtualClock.stepped(simulationStart(site));
  const broker: EmbeddedBroker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: silentLogger });
  const bus = new EventBus();
  const controller: Run['controller'] = {};
  let busEvents = 0;
  bus.on('point', (e) => {
    busEvents++;
    (controller[`${e.room}/${e.point}`] ??= []).push([e.ts, e.value, e.quality]);
  });
  bus.on('device', () => busEvents++);
  bus.on('command', () => busEvents++);
  const store = new RoomStateStore(site, bus, clock);
  const devices = site.rooms.flatMap((r) => r.devices);
  const sim = new SimulatedBuilding({ site, clock, brokerUrl: broker.url, seed, recordHistory: true });
  const mqtt = new MqttAdapter({ url: broker.url, sitePrefix: 'roomctl/det', reconnect: { minMs: 100, maxMs: 1000 } }, devices.filter((d) => d.mqtt), store, bus, clock, silentLogger);
  const modbus = new ModbusAdapter(devices.filter((d) => d.modbus), store, bus, clock, silentLogger);
  const router = new CommandRouter(site, [mqtt, modbus], bus, clock);
  const stop = async () => {
    store.stop();
    await modbus.stop();
    await mqtt.stop();
    await sim.stop();
    await broker.close();
  };
  const handle = { stop };
  running.push(handle);

  await sim.start();
  await mqtt.start();
  await modbus.start();
  store.start(5000);
  const settle = quietSettle([sim, deliveryWatch(sim, mqtt, modbus), () => busEvents]);
  await settle();

  // The scripted controller: what the readiness engine will do, at fixed virtual times.
  const write = async (room: string, point: string, value: PointValue) => {
    await router.write(room, point, value);
    await settle();
  };
  await clock.advance(20 * MINUTE, settle); // 07:20
  for (const [room, fcu] of [['R-20', 'hvac'], ['R-8', 'hvac'], ['R-40', 'hvac'], ['R-40', 'hvac2']] as const) {
    await write(room, `${fcu}.setpoint`, 23);
    await write(room, `${fcu}.mode`, 'cool');
    await write(room, `${fcu}.power`, true);
  }
  await write('R-20', 'fresh_air.power', true);
  await write('R-20', 'fresh_air.speed', 'high');
  await write('R-8', 'boiler.power', true);
  await clock.advance(10 * MINUTE, settle); // 07:30: AV on and mic test (P2)
  await write('R-20', 'display.power', true);
  for (const mic of ['1', '2', '3', '4']) {
    await write('R-20', `audio.mic.${mic}.mute`, false);
    await write('R-20', `audio.mic.${mic}.test`, true);
  }
  await clock.advance(5 * MINUTE, settle); // 07:35
  for (const mic of ['1', '2', '3', '4']) await write('R-20', `audio.mic.${mic}.test`, false);
  await write('R-20', 'lights.main.on', true);
  await write('R-20', 'lights.main.level', 80);
  await write('R-8', 'audio.mic.1.mute', false);
  await clock.advance(MINUTE, settle); // 07:36: the display loses power for 90 s and comes back off
  sim.injectFault('R-20', 'device_reboot:display');
  // The broker's last will reaches the controller in real time: wait for it with the clock still.
  await waitFor(() => store.deviceHealth('R-20', 'display')?.online === false, 10_000, 'the display offline');
  await settle();
  await clock.advance(49 * MINUTE, settle); // 08:25
  await write('R-20', 'lights.main.on', false);
  await clock.advance(MINUTE, settle);

  const run: Run = { sim: sim.histories(), controller, traffic: { published: sim.stats.published, framesAnswered: sim.stats.framesAnswered, commands: sim.stats.commands } };
  running.splice(running.indexOf(handle), 1);
  await stop();
  return run;
}

describe('simulated building determinism', () => {
  it('produces identical simulator and controller point histories in two runs with the same seed, and different ones with another seed', { timeout: 240_000 }, async () => {
    const site = siteFromYaml(await buildingYaml());
    const first = await playDay(site);
    const second = await playDay(site);

    // Not an idle building: traffic flowed both ways and things happened.
    expect(first.traffic.published).toBeGreaterThan(500);
    expect(first.traffic.framesAnswered).toBeGreaterThan(1000);
    expect(first.traffic.commands).toBeGreaterThan(10);
    expect(first.controller['R-8/occupancy.count']!.map(([, v]) => v)).toContain(6);
    expect(first.controller['R-20/audio.mic.1.level']!.some(([, v]) => typeof v === 'number')).toBe(true);
    // The display's reboot at 07:36: on, offline for 90 s, back with its factory state (off).
    const reboot = simulationStart(site) + 36 * MINUTE;
    expect(first.controller['R-20/display.power']!.filter(([t]) => t >= reboot).map(([t, v, q]) => [(t - reboot) / 1000, v, q])).toEqual([
      [0, true, 'offline'],
      [90, false, 'good'],
    ]);
    expect(first.sim['R-20/display.power']!.filter(([t]) => t >= reboot)).toEqual([[reboot, false]]);

    expect(Object.keys(second.sim).sort()).toEqual(Object.keys(first.sim).sort());
    for (const key of Object.keys(first.sim)) expect(second.sim[key], `simulator history of ${key}`).toEqual(first.sim[key]);
    expect(Object.keys(second.controller).sort()).toEqual(Object.keys(first.controller).sort());
    for (const key of Object.keys(first.controller)) expect(second.controller[key], `controller history of ${key}`).toEqual(first.controller[key]);

    const other = await playDay(site, 99);
    const differs = Object.keys(first.sim).filter((key) => JSON.stringify(other.sim[key]) !== JSON.stringify(first.sim[key]));
    expect(differs.length).toBeGreaterThan(0);
  });
});

describe('SimDay start', () => {
  it('with startTogether starts the building and the controller at one virtual instant and books the meetings before any Modbus poll has been answered; by default it lets the I/O settle first', { timeout: 120_000 }, async () => {
    const site = siteFromYaml(await buildingYaml());
    const start = simulationStart(site);
    const opened: { framesAnswered: number; hvacRead: boolean; booked: number; now: number }[] = [];
    for (const startTogether of [true, false]) {
      const day = await SimDay.open({ site, startTogether });
      running.push({ stop: () => day.close() });
      opened.push({
        framesAnswered: day.sim.stats.framesAnswered,
        hvacRead: day.service.state.get('R-20', 'hvac.temperature')?.value != null,
        booked: day.service.schedule.meetings().length,
        now: day.clock.now(),
      });
      await day.close();
    }
    // Nothing moved the clock: the building primed and went on the air at the engine's start instant.
    expect(opened.map((o) => o.now)).toEqual([start, start]);
    expect(opened.map((o) => o.booked)).toEqual([4, 4]);
    // Together: open() returned straight after service.start(), so the engine's first
    // timers fire (on the first advance) before the Modbus poll sent at start is answered.
    // (service.start() does no real I/O after the Modbus adapter starts, so none was answered yet.)
    expect(opened[0]).toMatchObject({ framesAnswered: 0, hvacRead: false });
    expect(opened[1]!.framesAnswered).toBeGreaterThan(0);
    expect(opened[1]!.hvacRead).toBe(true);
  });
});
