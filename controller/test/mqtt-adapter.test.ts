import { existsSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../src/adapters/broker.ts';
import { MqttAdapter, type MqttAdapterOptions } from '../src/adapters/mqtt.ts';
import type { Site } from '../src/config/load.ts';
import { ErrorCode, isRoomctlError } from '../src/errors.ts';
import { createLogger, silentLogger, type Logger } from '../src/log.ts';
import type { Clock, TimerHandle } from '../src/model/clock.ts';
import { CommandRouter } from '../src/model/commands.ts';
import type { ResolvedPoint } from '../src/model/devices.ts';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.ts';
import { mqttDevices, testSite } from './helpers/site.ts';
import { freePort, waitFor } from './helpers/wait.ts';

/** Everything a test starts is stopped here, newest first, even when the test fails. */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A clock the test moves by hand (only `now` matters to the adapter and the store). */
class ManualClock implements Clock {
  constructor(public t = Date.UTC(2025, 5, 2, 0, 30)) {}
  now = () => this.t;
  setTimeout = () => ({}) as unknown as TimerHandle;
  clearTimeout = () => {};
}

function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (out.push(...String(chunk).split('\n').filter(Boolean)), done()) });
  return { logger: createLogger('warn', sink), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

interface Peer {
  url: string;
  port: number;
}

/** Both real brokers the adapter must work with, started fresh for each test. */
const brokers: { name: string; start: () => Promise<Peer> }[] = [
  {
    name: 'the embedded aedes broker',
    start: async () => {
      const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: silentLogger });
      cleanups.push(() => b.close());
      return b;
    },
  },
  {
    name: 'a real Mosquitto',
    start: async () => {
      const m = await startMosquitto();
      cleanups.push(() => m.dispose());
      return m;
    },
  },
];

/**
 * A TCP relay between the adapter and the broker, so a test can kill the adapter's
 * socket (the broker sees it die without DISCONNECT) and refuse reconnects for a while.
 */
async function startRelay(targetPort: number) {
  const sockets = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((down) => {
    if (refusing) return void down.destroy();
    const up = tcpConnect(targetPort, '127.0.0.1');
    const drop = () => (down.destroy(), up.destroy(), sockets.delete(down), sockets.delete(up));
    for (const s of [down, up]) sockets.add(s.on('error', drop).on('close', drop));
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const relay = {
    url: `mqtt://127.0.0.1:${port}`,
    cut: () => sockets.forEach((s) => s.destroy()),
    refuse: (on: boolean) => void (refusing = on),
    close: () => (relay.cut(), new Promise<void>((resolve) => server.close(() => resolve()))),
  };
  cleanups.push(relay.close);
  return relay;
}

async function deviceClient(url: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 100, ...options });
  cleanups.push(() => client.endAsync(true));
  return client;
}

function startAdapter(url: string, opts: { clock?: Clock; logger?: Logger; options?: Partial<MqttAdapterOptions> } = {}) {
  const clock = opts.clock ?? new ManualClock();
  const { site, bus, store, listenerErrors } = testSite(undefined, clock);
  const adapter = new MqttAdapter(
    { url, sitePrefix: 'roomctl/test', reconnect: { minMs: 100, maxMs: 1600 }, firstConnectMs: 20_000, ...opts.options },
    mqttDevices(site),
    store,
    bus,
    clock,
    opts.logger ?? silentLogger,
  );
  cleanups.push(() => adapter.stop());
  return { adapter, site, bus, store, listenerErrors, started: adapter.start() };
}

function pointOf(site: Site, room: string, id: string): ResolvedPoint {
  const p = site.rooms.find((r) => r.id === room)?.devices.flatMap((d) => d.points).find((x) => x.id === id);
  if (!p) throw new Error(`no point ${room}/${id}`);
  return p;
}

/** Publishes again and again until `applied()` holds: subscriptions may still be settling after a (re)connect. */
async function publishUntil(client: MqttClient, topic: string, payload: string, applied: () => boolean, what: string): Promise<void> {
  await waitFor(async () => applied() || (await client.publishAsync(topic, payload, { qos: 1 }), applied()), 20_000, what, 100);
}

/** Messages a device client receives on its subscriptions, with the packet flags. */
function inbox(client: MqttClient) {
  const got: { topic: string; payload: string; qos: number; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }));
  return got;
}

describe.each(brokers)('The MQTT adapter with $name', ({ start }) => {
  it('applies JSON readings of lighting zones and microphones to the room state of the right room', async () => {
    const broker = await start();
    const { store, started, adapter, listenerErrors } = startAdapter(broker.url);
    await started;
    expect(adapter.connected).toBe(true);
    const device = await deviceClient(broker.url);
    await device.publishAsync('t/3F-301/lights/main/state', JSON.stringify({ on: true, level: 55 }));
    await device.publishAsync('t/3F-301/lights/board/state', JSON.stringify({ on: false, level: 0 }));
    await device.publishAsync('t/3F-301/dsp/mic/2', JSON.stringify({ level: -31.5, battery: 80, mute: false, testing: false }));
    await device.publishAsync('t/5F-501/lights/main/state', JSON.stringify({ level: 12 }));
    await waitFor(() => store.get('5F-501', 'lights.main.level')?.value === 12, 15_000, 'the 5F-501 reading');
    await waitFor(() => store.get('3F-301', 'audio.mic.2.battery')?.value === 80, 15_000, 'the mic reading');
    expect(store.get('3F-301', 'lights.main.on')).toMatchObject({ value: true, quality: 'good' });
    expect(store.get('3F-301', 'lights.main.level')).toMatchObject({ value: 55, quality: 'good' });
    expect(store.get('3F-301', 'lights.board.on')?.value).toBe(false);
    expect(store.get('3F-301', 'audio.mic.2.level')?.value).toBe(-31.5);
    expect(store.get('3F-301', 'audio.mic.1.level')).toMatchObject({ value: null, quality: 'offline' });
    // A partial update touches only the fields it carries.
    expect(store.get('5F-501', 'lights.main.on')?.value).toBeNull();
    expect(adapter.stats()).toMatchObject({ received: 4, applied: 4, rejected: 0 });
    expect(listenerErrors).toEqual([]);
  });

  it('maps a raw window payload and display ON/OFF strings onto typed values and marks such devices online', async () => {
    const broker = await start();
    const { store, started } = startAdapter(broker.url);
    await started;
    const device = await deviceClient(broker.url);
    await device.publishAsync('t/3F-301/window/contact', 'OPEN');
    await device.publishAsync('t/3F-301/display/state', JSON.stringify({ power: 'ON', input: 'hdmi2' }));
    await waitFor(() => store.get('3F-301', 'display.input')?.value === 'hdmi2', 15_000, 'the display reading');
    await waitFor(() => store.get('3F-301', 'window.contact')?.value === 'open', 15_000, 'the window reading');
    expect(store.get('3F-301', 'display.power')?.value).toBe(true);
    // The window contact has no availability topic: a valid message is its sign of life.
    expect(store.deviceHealth('3F-301', 'window')?.online).toBe(true);
    await device.publishAsync('t/3F-301/window/contact', 'CLOSED\n');
    await waitFor(() => store.get('3F-301', 'window.contact')?.value === 'closed', 15_000, 'the closed window');
  });

  it('follows a device availability topic: offline makes all its points offline, online brings readings back to good', async () => {
    const broker = await start();
    const { store, started } = startAdapter(broker.url);
    await started;
    const device = await deviceClient(broker.url);
    await device.publishAsync('t/3F-301/door/availability', 'online', { retain: true });
    await device.publishAsync('t/3F-301/door/state', JSON.stringify({ contact: 'closed', locked: true }));
    await waitFor(() => store.get('3F-301', 'door.locked')?.value === true, 15_000, 'the door reading');
    // aedes may forward the retained message after the plain one that followed it.
    await waitFor(() => store.deviceHealth('3F-301', 'door')?.online, 15_000, 'the door to be online');
    await device.publishAsync('t/3F-301/door/availability', 'offline', { retain: true });
    await waitFor(() => store.deviceHealth('3F-301', 'door')?.online === false, 15_000, 'the door to go offline');
    expect(store.get('3F-301', 'door.contact')).toMatchObject({ value: 'closed', quality: 'offline' });
    expect(store.get('3F-301', 'door.locked')?.quality).toBe('offline');
    await device.publishAsync('t/3F-301/door/availability', 'online', { retain: true });
    await device.publishAsync('t/3F-301/door/state', JSON.stringify({ contact: 'open', locked: false }));
    await waitFor(() => store.get('3F-301', 'door.contact')?.value === 'open', 15_000, 'the door to come back');
    expect(store.get('3F-301', 'door.contact')?.quality).toBe('good');
    await device.publishAsync('t/3F-301/door/availability', '', { retain: true });
  });

  it('publishes commands at QoS 1, not retained, with the typed value, clamped by the router, and a cmd_id', async () => {
    const broker = await start();
    const { site, bus, started, adapter } = startAdapter(broker.url);
    await started;
    const device = await deviceClient(broker.url);
    const got = inbox(device);
    await device.subscribeAsync(['t/3F-301/lights/main/set', 't/3F-301/display/set', 't/3F-301/dsp/mic/3/set'], { qos: 1 });

    await adapter.writePoint(pointOf(site, '3F-301', 'lights.main.level'), 80, 'cmd-1');
    await adapter.writePoint(pointOf(site, '3F-301', 'display.power'), true, 'cmd-2');
    const router = new CommandRouter(site, [adapter], bus, new ManualClock());
    const result = await router.write('3F-301', 'audio.mic.3.mute', false);
    const clamped = await router.write('3F-301', 'lights.main.level', 150);
    await waitFor(() => got.length >= 4, 15_000, 'four commands at the device');

    expect(got[0]).toEqual({ topic: 't/3F-301/lights/main/set', payload: JSON.stringify({ level: 80, cmd_id: 'cmd-1' }), qos: 1, retain: false });
    expect(JSON.parse(got[1]!.payload)).toEqual({ power: true, cmd_id: 'cmd-2' });
    expect(got[2]!.topic).toBe('t/3F-301/dsp/mic/3/set');
    expect(JSON.parse(got[2]!.payload)).toEqual({ mute: false, cmd_id: result.commandId });
    expect(clamped).toMatchObject({ sent: 100, clamped: true });
    expect(JSON.parse(got[3]!.payload)).toEqual({ level: 100, cmd_id: clamped.commandId });
    expect(got.every((m) => m.qos === 1 && !m.retain)).toBe(true);
    expect(adapter.stats().commandsSent).toBe(4);
    // A read-only point has no command topic.
    await expect(adapter.writePoint(pointOf(site, '3F-301', 'audio.mic.1.level'), -10, 'cmd-x')).rejects.toMatchObject({ code: ErrorCode.PointNotWritable });
  });

  it('announces itself with a retained birth, and the broker publishes its retained last will when its socket dies', async () => {
    const broker = await start();
    const relay = await startRelay(broker.port);
    const observer = await deviceClient(broker.url);
    const got = inbox(observer);
    await observer.subscribeAsync('roomctl/test/status', { qos: 1 });
    const { started, adapter } = startAdapter(relay.url);
    await started;
    await waitFor(() => got.some((m) => m.payload === 'online'), 15_000, 'the birth message');

    relay.refuse(true);
    relay.cut();
    await waitFor(() => got.at(-1)?.payload === 'offline', 15_000, 'the last will');
    const late = await deviceClient(broker.url);
    const retained = inbox(late);
    await late.subscribeAsync('roomctl/test/status', { qos: 1 });
    await waitFor(() => retained[0], 15_000, 'the retained status');
    expect(retained[0]).toMatchObject({ payload: 'offline', retain: true, qos: 1 });

    relay.refuse(false);
    await waitFor(() => got.at(-1)?.payload === 'online', 15_000, 'the birth after reconnect');
    expect(adapter.connected).toBe(true);
    await adapter.stop();
    await waitFor(() => retained.at(-1)?.payload === 'offline', 15_000, 'offline after stop');
    const after = await deviceClient(broker.url);
    const afterStop = inbox(after);
    await after.subscribeAsync('roomctl/test/status', { qos: 1 });
    await waitFor(() => afterStop[0], 15_000, 'the retained status after stop');
    expect(afterStop[0]).toMatchObject({ payload: 'offline', retain: true });
    expect(adapter.connected).toBe(false);
  });

  it('subscribes again after a reconnect, so device readings and other features’ subscriptions keep arriving', async () => {
    const broker = await start();
    const relay = await startRelay(broker.port);
    const { store, started, adapter } = startAdapter(relay.url);
    const keypad: string[] = [];
    adapter.subscribe('roomctl/test/rooms/+/scene/set', (topic, payload) => keypad.push(`${topic}=${payload.toString()}`));
    await started;
    const device = await deviceClient(broker.url);
    await publishUntil(device, 't/3F-301/lights/main/state', '{"level":10}', () => store.get('3F-301', 'lights.main.level')?.value === 10, 'a first reading');

    relay.cut();
    await waitFor(() => adapter.stats().reconnects >= 1 && adapter.connected, 20_000, 'the adapter to reconnect');
    // A clean session: the broker forgot every subscription, so these prove the adapter renewed them.
    await publishUntil(device, 't/3F-301/lights/main/state', '{"level":20}', () => store.get('3F-301', 'lights.main.level')?.value === 20, 'a reading after reconnect');
    await publishUntil(device, 'roomctl/test/rooms/3F-301/scene/set', 'meeting', () => keypad.length > 0, 'a keypad message after reconnect');
    expect(keypad[0]).toBe('roomctl/test/rooms/3F-301/scene/set=meeting');
  });

  it('keeps a command issued while the broker is unreachable and delivers it after reconnect; the retry delays grow', async () => {
    const broker = await start();
    const relay = await startRelay(broker.port);
    const { site, bus, started, adapter } = startAdapter(relay.url);
    await started;
    const delays: number[] = [];
    const slots: number[] = [];
    bus.on('mqtt-connection', (e) => void (!e.connected && (delays.push(adapter.stats().reconnectDelayMs), slots.push(adapter.stats().reconnectSlotMs))));
    const device = await deviceClient(broker.url);
    const got = inbox(device);
    await device.subscribeAsync('t/3F-301/door/set', { qos: 1 });

    relay.refuse(true);
    relay.cut();
    await waitFor(() => !adapter.connected, 15_000, 'the adapter to notice');
    const sent = adapter.writePoint(pointOf(site, '3F-301', 'door.locked'), true, 'cmd-offline');
    await waitFor(() => delays.length >= 5, 30_000, 'five failed attempts');
    expect(got).toEqual([]);
    relay.refuse(false);
    await sent;
    await waitFor(() => got.length > 0, 15_000, 'the queued command at the device');
    expect(JSON.parse(got[0]!.payload)).toEqual({ locked: true, cmd_id: 'cmd-offline' });
    // Capped exponential with full jitter (issue 11): each attempt at a random instant of its
    // slot, the slots doubling from reconnect.minMs (100) to the ceiling maxMs (1600).
    expect(slots.slice(0, 5)).toEqual([100, 200, 400, 800, 1600]);
    expect(delays.every((d) => d >= 0 && d <= 2 * 1600)).toBe(true);
  });

  it('applies plain-number readings at a point’s exact limits, rejects the ones just outside them, and still converts a numeric string (the reader’s number fast path agrees with checkReading)', async () => {
    const broker = await start();
    const { store, bus, started } = startAdapter(broker.url);
    const rejections: string[] = [];
    bus.on('payload-rejected', (r) => rejections.push(r.reason));
    const levels: unknown[] = [];
    bus.on('point', (e) => e.point === 'lights.main.level' && e.quality === 'good' && levels.push(e.value));
    await started;
    const device = await deviceClient(broker.url);
    await publishUntil(device, 't/3F-301/lights/main/state', '{"level":0}', () => store.get('3F-301', 'lights.main.level')?.value === 0, 'the minimum');
    for (const payload of ['{"level":-0.5}', '{"level":100}', '{"level":100.5}', '{"level":1e400}', '{"level":"55"}']) await device.publishAsync('t/3F-301/lights/main/state', payload, { qos: 1 });
    await waitFor(() => store.get('3F-301', 'lights.main.level')?.value === 55, 15_000, 'the numeric string');
    expect(levels).toEqual([0, 100, 55]);
    expect(rejections).toEqual(["lights.main.level: -0.5 is below the point's minimum 0", "lights.main.level: 100.5 is above the point's maximum 100", 'lights.main.level: expected a number, got null']);
    await device.endAsync();
  });

  it('counts malformed payloads per device, never applies them, and logs each device at most once a minute', async () => {
    const broker = await start();
    const clock = new ManualClock();
    const { logger, lines } = capturingLogger();
    const { store, bus, started, adapter } = startAdapter(broker.url, { clock, logger });
    const rejections: { device: string; reason: string; count: number }[] = [];
    bus.on('payload-rejected', (r) => rejections.push(r));
    await started;
    const device = await deviceClient(broker.url);
    await publishUntil(device, 't/3F-301/lights/main/state', '{"on":true,"level":40}', () => store.get('3F-301', 'lights.main.level')?.value === 40, 'a good reading');
    const appliedBefore = adapter.stats().applied;
    const bad = ['not json', '{"level":150}', '{"level":"bright"}', '{"on":"maybe"}', '[1,2]', '{"colour":"red"}', 'x'.repeat(70_000)];
    for (const payload of bad) await device.publishAsync('t/3F-301/lights/main/state', payload, { qos: 1 });
    await device.publishAsync('t/3F-301/window/contact', 'AJAR', { qos: 1 });
    await waitFor(() => rejections.length >= bad.length + 1, 15_000, 'every rejection');
    expect(rejections.map((r) => r.reason)).toEqual([
      'payload is not valid JSON',
      "lights.main.level: 150 is above the point's maximum 100",
      'lights.main.level: expected a number, got "bright"',
      'lights.main.on: expected true/false, got "maybe"',
      'payload is not a JSON object with on, level',
      'payload has none of the fields on, level',
      'payload of 70000 bytes is over the 65536-byte limit',
      'window.contact: expected one of open/closed, got "AJAR"',
    ]);
    expect(rejections.filter((r) => r.device === 'lights').map((r) => r.count)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // Never applied: the last good value is kept — but no longer trusted, since the device
    // has since sent something unusable for it (a rejected reading proves nothing: stale).
    expect(store.get('3F-301', 'lights.main.level')).toMatchObject({ value: 40, quality: 'stale' });
    expect(store.get('3F-301', 'lights.main.on')?.value).toBe(true);
    expect(store.get('3F-301', 'window.contact')?.value).toBeNull();
    expect(store.deviceHealth('3F-301', 'lights')?.lastError).toBe('payload of 70000 bytes is over the 65536-byte limit');

    const logged = () => lines().filter((l) => l.msg === 'rejected a device payload');
    expect(logged().map((l) => l.device)).toEqual(['lights', 'window']);
    clock.t += 61_000;
    await device.publishAsync('t/3F-301/lights/main/state', '{"level":-1}', { qos: 1 });
    await waitFor(() => logged().length === 3, 15_000, 'a second log line a minute later');
    expect(logged()[2]).toMatchObject({ device: 'lights', total: 8, notLogged: 6 });
    expect(adapter.stats()).toMatchObject({ rejected: 9, applied: appliedBefore });
  });
});

describe('The MQTT adapter with a Mosquitto that is SIGKILLed and restarted', () => {
  it('resumes readings without a restart of the adapter and delivers a command issued while the broker was down', async () => {
    const broker: Mosquitto = await startMosquitto({ persistence: true });
    cleanups.push(() => broker.dispose());
    // The device keeps a persistent session (clean: false) that Mosquitto saves to disk
    // on every change, so its subscription survives the SIGKILL and the queued command
    // is delivered whichever of device and adapter reconnects first.
    const device = await deviceClient(broker.url, { clientId: 'door-device', clean: false });
    const got = inbox(device);
    await device.subscribeAsync('t/3F-301/door/set', { qos: 1 });
    await waitFor(() => existsSync(join(broker.dataDir, 'mosquitto.db')), 15_000, 'mosquitto to save the device session');

    const { site, store, bus, started, adapter } = startAdapter(broker.url);
    await started;
    const delays: number[] = [];
    const slots: number[] = [];
    bus.on('mqtt-connection', (e) => void (!e.connected && (delays.push(adapter.stats().reconnectDelayMs), slots.push(adapter.stats().reconnectSlotMs))));
    await publishUntil(device, 't/3F-301/door/state', '{"contact":"closed","locked":false}', () => store.get('3F-301', 'door.contact')?.value === 'closed', 'a reading');

    await broker.stop('SIGKILL');
    await waitFor(() => !adapter.connected, 15_000, 'the adapter to notice the dead broker');
    const sent = adapter.writePoint(pointOf(site, '3F-301', 'door.locked'), true, 'cmd-while-down');
    await waitFor(() => delays.length >= 4, 30_000, 'four failed reconnect attempts');
    await broker.restart();

    await sent;
    await waitFor(() => got.length > 0, 20_000, 'the command at the device after the restart');
    expect(got[0]).toMatchObject({ topic: 't/3F-301/door/set', qos: 1, retain: false });
    expect(JSON.parse(got[0]!.payload)).toEqual({ locked: true, cmd_id: 'cmd-while-down' });
    await publishUntil(device, 't/3F-301/door/state', '{"contact":"open","locked":true}', () => store.get('3F-301', 'door.contact')?.value === 'open', 'a reading after the restart');
    expect(store.get('3F-301', 'door.locked')).toMatchObject({ value: true, quality: 'good' });
    expect(adapter.connected).toBe(true);
    // Full jitter within slots that double (issue 11): the slots grow, not each draw.
    expect(slots.slice(0, 4)).toEqual([100, 200, 400, 800]);
  });
});

describe('Starting and stopping, and the embedded broker', () => {
  it('returns from start() while the broker is down, keeps retrying, and connects once the broker comes up', async () => {
    const port = await freePort();
    const { adapter, started } = startAdapter(`mqtt://127.0.0.1:${port}`, { options: { firstConnectMs: 300 } });
    await started;
    expect(adapter.connected).toBe(false);
    await waitFor(() => adapter.stats().reconnects >= 2, 15_000, 'two reconnect attempts');
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port, logger: silentLogger });
    cleanups.push(() => broker.close());
    await waitFor(() => adapter.connected, 20_000, 'the adapter to connect to the late broker');
  });

  it('refuses a taken port for the embedded broker with BrokerPortInUse and says how to change it', async () => {
    const first = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: silentLogger });
    cleanups.push(() => first.close());
    const err = await startEmbeddedBroker({ host: '127.0.0.1', port: first.port, logger: silentLogger }).catch((e: unknown) => e);
    expect(isRoomctlError(err, ErrorCode.BrokerPortInUse)).toBe(true);
    expect((err as Error).message).toBe(
      `port ${first.port} is already in use (another MQTT broker?). Set mqtt.broker.port in the config to a free port, or set mqtt.url to use that broker instead.`,
    );
  });

  it('makes the embedded broker forward a retained message that a plain one follows at once, and overlapping subscriptions once', async () => {
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: silentLogger });
    cleanups.push(() => broker.close());
    const watcher = await deviceClient(broker.url);
    const got = inbox(watcher);
    await watcher.subscribeAsync(['t/#', 't/3F-301/door/#', 't/3F-301/door/state'], { qos: 0 });
    const device = await deviceClient(broker.url);
    // One TCP write carries both packets, as a device announcing itself does.
    device.publish('t/3F-301/door/availability', 'online', { retain: true });
    device.publish('t/3F-301/door/state', '{"contact":"open"}');
    await waitFor(() => got.length >= 2, 15_000, 'both messages');
    // Any duplicate copy would have gone out with its original, before this marker.
    await device.publishAsync('t/marker', 'end');
    await waitFor(() => got.some((m) => m.topic === 't/marker'), 15_000, 'the marker');
    expect(got.map((m) => m.topic).sort()).toEqual(['t/3F-301/door/availability', 't/3F-301/door/state', 't/marker']);
  });

  it('lets only clients with the configured username and password into the embedded broker', async () => {
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, username: 'roomctl', password: 's3cret', logger: silentLogger });
    cleanups.push(() => broker.close());
    const { adapter, started } = startAdapter(broker.url, { options: { username: 'roomctl', password: 's3cret' } });
    await started;
    expect(adapter.connected).toBe(true);
    const refused = await mqtt.connectAsync(broker.url, { username: 'roomctl', password: 'wrong', reconnectPeriod: 0 }).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/Bad username or password/i);
  });
});
