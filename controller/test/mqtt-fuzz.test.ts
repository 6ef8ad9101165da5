import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../src/adapters/broker.ts';
import { MqttAdapter } from '../src/adapters/mqtt.ts';
import { createLogger, silentLogger } from '../src/log.ts';
import type { Clock, TimerHandle } from '../src/model/clock.ts';
import type { PayloadRejection } from '../src/model/points.ts';
import { startMosquitto } from './helpers/mosquitto.ts';
import { mqttDevices, testSite } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';
import { Writable } from 'node:stream';
import { mulberry32 } from '../../devices/sim/random.ts';

const MESSAGES = 10_000;
const BATCH = 400;
/** Fixed so a failure can be replayed; FUZZ_SEED=n tries another sequence. */
const SEED = Number(process.env.FUZZ_SEED ?? 20250602);

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const frozenClock: Clock = { now: () => Date.UTC(2025, 5, 2, 1), setTimeout: () => ({}) as unknown as TimerHandle, clearTimeout: () => {} };

/** Device state topics of the shared two-room test site, with the JSON fields their points read. */
const JSON_TOPICS: { topic: string; fields: string[]; good: Record<string, unknown> }[] = [
  { topic: 't/3F-301/lights/main/state', fields: ['on', 'level'], good: { on: true, level: 40 } },
  { topic: 't/3F-301/lights/board/state', fields: ['on', 'level'], good: { on: false, level: 0 } },
  { topic: 't/3F-301/dsp/mic/1', fields: ['level', 'battery', 'mute', 'testing'], good: { level: -40, battery: 90, mute: false, testing: false } },
  { topic: 't/3F-301/dsp/mic/4', fields: ['level', 'battery', 'mute', 'testing'], good: { level: -120, battery: 5, mute: true, testing: false } },
  { topic: 't/3F-301/dsp/master', fields: ['mute'], good: { mute: false } },
  { topic: 't/3F-301/door/state', fields: ['contact', 'locked'], good: { contact: 'closed', locked: true } },
  { topic: 't/3F-301/display/state', fields: ['power', 'input'], good: { power: 'OFF', input: 'hdmi1' } },
  { topic: 't/5F-501/lights/main/state', fields: ['on', 'level'], good: { on: true, level: 100 } },
  { topic: 't/5F-501/dsp/mic/2', fields: ['level', 'battery', 'mute', 'testing'], good: { level: -3, battery: 100, mute: false, testing: true } },
];
const RAW_TOPICS = ['t/3F-301/window/contact', 't/5F-501/window/contact'];
const RAW_VALID = new Set(['OPEN', 'CLOSED', 'open', 'closed']);
const AVAILABILITY_TOPICS = ['t/3F-301/lights/availability', 't/3F-301/dsp/availability', 't/3F-301/door/availability', 't/3F-301/display/availability', 't/5F-501/lights/availability', 't/5F-501/dsp/availability'];
const AVAILABILITY_VALID = new Set(['online', 'offline']);
const BASES = ['t/3F-301/lights', 't/3F-301/dsp', 't/3F-301/door', 't/3F-301/display', 't/3F-301/window', 't/5F-501/lights', 't/5F-501/dsp', 't/5F-501/window'];

/**
 * Values wrong for every point kind the fuzzer targets (booleans, 0..100 %, -120..0 dBFS,
 * enums): wrong types, out of range, non-finite, numeric strings out of range, NaN words.
 */
const WRONG: unknown[] = [null, [], {}, [1], { level: 50 }, 'bright', 'NaN', 'Infinity', '-Infinity', '1e999', '', ' ', '\u0000', '🙂', 'yes', 'ON ', '150', '-121',
  101, -121, 150, 1e308, -1e308, 1e21, 100.0001, 12345678901234567890, 'OPEN', 'hdmi3', 'Closed'];


type Fuzz = { topic: string; payload: Buffer; kind: 'state' | 'control' | 'ignored' };

/** One malformed message. Every `state` message is invalid for every point on its topic by construction. */
function makeFuzzer(seed: number, controlTopics: boolean) {
  const r = mulberry32(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (max: number) => Buffer.from(Array.from({ length: int(max) }, () => int(256)));
  const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  const jsonGarbage = (t: (typeof JSON_TOPICS)[number]): Buffer => {
    const roll = r();
    if (roll < 0.2) return bytes(200);
    if (roll < 0.35) {
      const text = JSON.stringify(t.good);
      return Buffer.from(text.slice(0, int(text.length)));
    }
    if (roll < 0.6) {
      const o: Record<string, unknown> = {};
      for (const f of t.fields) if (r() < 0.7 || Object.keys(o).length === 0) o[f] = pick(WRONG);
      return Buffer.from(JSON.stringify(o));
    }
    if (roll < 0.65) return Buffer.from(`{"${pick(t.fields)}": ${pick(['1e400', '-1e400', `1${'0'.repeat(400)}`, `-${'9'.repeat(500)}`])}}`);
    if (roll < 0.75) {
      if (r() < 0.5) return Buffer.from(deep(1 + int(5000)));
      const depth = 1 + int(2000);
      return Buffer.from(`{"${pick(t.fields)}":${'{"x":'.repeat(depth)}1${r() < 0.5 ? '}'.repeat(depth + 1) : ''}`);
    }
    if (roll < 0.8) return Buffer.from(JSON.stringify(pick([42, 'text', true, false, null, [t.good], -7.5])));
    if (roll < 0.86)
      return Buffer.from(pick(['{"__proto__":{"level":50,"on":true}}', '{"constructor":{"prototype":{"level":50}}}', '{"LEVEL":50}', '{"level ":50}', '{"le\\u0000vel":50}', `{"${pick(t.fields)}.x":1}`]));
    if (roll < 0.9) return Buffer.concat([Buffer.from(`{"${pick(t.fields)}":"`), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
    if (roll < 0.905) return Buffer.from(JSON.stringify({ ...t.good, pad: 'x'.repeat(66_000 + int(10_000)) }));
    return Buffer.from(`{"${pick(t.fields)}":${pick(['NaN', 'Infinity', 'undefined', "'50'", '0x10', '.5e', '--1', 'tru', '50,'])}}`);
  };
  const textGarbage = (valid: Set<string>): Buffer => {
    for (;;) {
      const roll = r();
      const b = roll < 0.4 ? bytes(100) : roll < 0.8 ? Buffer.from(String(pick(WRONG))) : Buffer.from(`${pick([...valid])}${pick(['!', '_', 'x', '\u0000', 'ed'])}`);
      if (!valid.has(b.toString().trim())) return b;
    }
  };

  return (): Fuzz => {
    const roll = r();
    if (roll < 0.7) {
      const t = pick(JSON_TOPICS);
      return { topic: t.topic, payload: jsonGarbage(t), kind: 'state' };
    }
    if (roll < 0.8) return { topic: pick(RAW_TOPICS), payload: textGarbage(RAW_VALID), kind: 'state' };
    if (roll < 0.9) return { topic: pick(AVAILABILITY_TOPICS), payload: textGarbage(AVAILABILITY_VALID), kind: 'state' };
    if (roll < 0.95 && controlTopics) {
      const cc = String.fromCharCode(1 + int(31));
      return { topic: `${pick(BASES)}/${pick(['main', 'mic', ''])}${cc}/state`, payload: Buffer.from('{"level":50}'), kind: 'control' };
    }
    // Under a device base but no point reads it (e.g. the echo of a command): ignored, never applied.
    return { topic: `${pick(BASES)}/${pick(['set', 'main/set', 'zzz', 'mic/9', 'state/extra'])}`, payload: bytes(50), kind: 'ignored' };
  };
}

const brokers = [
  {
    name: 'the embedded aedes broker',
    // aedes forwards topics with control characters; the adapter must count them.
    controlTopics: true,
    start: async () => {
      const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: silentLogger });
      cleanups.push(() => b.close());
      return b.url;
    },
  },
  {
    name: 'a real Mosquitto',
    // Mosquitto itself drops a client that publishes a topic with control characters.
    controlTopics: false,
    start: async () => {
      const m = await startMosquitto();
      cleanups.push(() => m.dispose());
      return m.url;
    },
  },
];

describe.each(brokers)('Fuzzing the MQTT adapter through $name', ({ start, controlTopics }) => {
  it('survives 10,000 random and malformed payloads, counts every one, changes no value (garbage can only make a point stale, never good) and still applies good messages afterwards', async () => {
    const url = await start();
    const { site, bus, store, listenerErrors } = testSite(undefined, frozenClock);
    const logLines: string[] = [];
    const logger = createLogger('warn', new Writable({ write: (c, _e, done) => (logLines.push(String(c)), done()) }));
    const adapter = new MqttAdapter({ url, sitePrefix: 'roomctl/fuzz', reconnect: { minMs: 100, maxMs: 1000 } }, mqttDevices(site), store, bus, frozenClock, logger);
    cleanups.push(() => adapter.stop());
    const rejections: PayloadRejection[] = [];
    bus.on('payload-rejected', (r) => rejections.push(r));
    await adapter.start();
    const device = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    cleanups.push(() => device.endAsync(true));

    // A known good state for every targeted point and device.
    for (const t of AVAILABILITY_TOPICS) await device.publishAsync(t, 'online', { qos: 1 });
    for (const t of JSON_TOPICS) await device.publishAsync(t.topic, JSON.stringify(t.good), { qos: 1 });
    for (const t of RAW_TOPICS) await device.publishAsync(t, 'CLOSED', { qos: 1 });
    const settled = AVAILABILITY_TOPICS.length + JSON_TOPICS.length + RAW_TOPICS.length;
    await waitFor(() => adapter.stats().applied === settled, 20_000, 'the good baseline');
    // Values and device status must not change; quality may only go from good to stale
    // (a rejected message leaves its points unproven), never to good from garbage.
    const snapshot = () => JSON.stringify([site.rooms.map((r) => store.roomPoints(r.id).map((p) => [p.id, p.value])), store.allDeviceHealth().map((h) => [h.device, h.online])]);
    const qualities = () => site.rooms.flatMap((r) => store.roomPoints(r.id).map((p) => [`${r.id}/${p.id}`, p.quality] as const));
    const qualityBefore = new Map(qualities());
    const before = snapshot();
    const baseline = adapter.stats();
    expect(baseline.rejected).toBe(0);

    const next = makeFuzzer(SEED, controlTopics);
    let state = 0;
    let control = 0;
    for (let sent = 0; sent < MESSAGES; ) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < BATCH && sent < MESSAGES; i++, sent++) {
        const m = next();
        if (m.kind === 'state') state++;
        if (m.kind === 'control') control++;
        batch.push(device.publishAsync(m.topic, m.payload, { qos: 1 }));
      }
      await Promise.all(batch);
      // Mosquitto holds at most 1000 QoS 1 messages per client: let the adapter catch up before the next batch.
      await waitFor(() => adapter.stats().received === baseline.received + state, 30_000, `delivery of ${state} state messages (seed ${SEED})`);
    }
    const controlRejected = () => rejections.filter((r) => r.reason === 'topic contains control characters').length;
    await waitFor(() => controlRejected() === control, 30_000, 'every control-character topic to be counted');

    const after = adapter.stats();
    expect(adapter.connected).toBe(true);
    expect(after.applied).toBe(baseline.applied);
    expect(snapshot()).toBe(before);
    for (const [id, q] of qualities()) expect([qualityBefore.get(id), 'stale'], id).toContain(q);
    expect(after.rejected).toBeGreaterThanOrEqual(state + control);
    expect(after.rejected).toBe(rejections.length);
    // Counted per device: every device the fuzzer targeted has its own growing count.
    const perDevice = new Map<string, number>();
    for (const r of rejections) perDevice.set(`${r.room}/${r.device}`, Math.max(perDevice.get(`${r.room}/${r.device}`) ?? 0, r.count));
    expect([...perDevice.keys()].sort()).toEqual(['3F-301/audio', '3F-301/display', '3F-301/door', '3F-301/lights', '3F-301/window', '5F-501/audio', '5F-501/lights', '5F-501/window']);
    expect([...perDevice.values()].reduce((a, b) => a + b, 0)).toBe(rejections.length);
    // The clock stood still: one log line per device, however much garbage arrived.
    expect(logLines.filter((l) => l.includes('rejected a device payload')).length).toBe(perDevice.size);
    expect(listenerErrors).toEqual([]);

    // Good messages after the storm are still applied.
    await device.publishAsync('t/3F-301/lights/main/state', JSON.stringify({ on: false, level: 73 }), { qos: 1 });
    await device.publishAsync('t/3F-301/window/contact', 'OPEN', { qos: 1 });
    await device.publishAsync('t/5F-501/dsp/mic/2', JSON.stringify({ level: -60 }), { qos: 1 });
    await device.publishAsync('t/3F-301/door/availability', 'offline', { qos: 1 });
    await waitFor(() => store.get('3F-301', 'door.locked')?.quality === 'offline', 20_000, 'good messages after the fuzzing');
    expect(store.get('3F-301', 'lights.main.level')).toMatchObject({ value: 73, quality: 'good' });
    expect(store.get('3F-301', 'lights.main.on')?.value).toBe(false);
    expect(store.get('3F-301', 'window.contact')?.value).toBe('open');
    expect(store.get('5F-501', 'audio.mic.2.level')?.value).toBe(-60);
  });
});
