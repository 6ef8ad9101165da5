import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.ts';
import { SimDay } from '../src/cli/sim-day.ts';
import type { SceneResult } from '../src/engine/reconcile/scenes.ts';
import type { CommandRecord } from '../src/model/points.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Scenes end to end (issue 6, item 3): the real service (embedded broker, MQTT and
 * Modbus adapters, engine, keypad listener; the HTTP app built on it) beside the simulated building over
 * real sockets, on a stepped virtual clock. A keypad message on
 * roomctl/<site>/rooms/<room>/scene/set becomes device commands, each write is read
 * back from the simulated devices, and the result is published retained on
 * roomctl/<site>/rooms/<room>/scene — and the same through the HTTP API.
 */
const YAML = `
site: { id: scn, name: Scene building, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Scene room
    capacity: 12
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: scn/R1/lights }, channels: { zone: [main, board] } }
      - { name: display, profile: display-mqtt, mqtt: { base: scn/R1/display } }
      - { name: door, profile: door-mqtt, mqtt: { base: scn/R1/door } }
    scenes:
      presentation:
        label: { en: Presentation, zh-CN: 演示 }
        steps:
          - { set: display.power, value: true }
          - { wait_ms: 2000 }
          - { set: lights.main.on, value: true }
          - { set: lights.main.level, value: 30 }
          - { set: lights.board.on, value: true }
          - { set: lights.board.level, value: 90 }
      dark:
        steps:
          - { set: lights.board.on, value: false }
          - { set: lights.main.on, value: false }
          - { set: display.power, value: false }
simulation: { seed: 3, day: 2025-07-16, start: "09:00" }
`;

let day: SimDay;
let app: FastifyInstance;
let keypad: MqttClient;
const results: { payload: SceneResult; retain: boolean }[] = [];
const commands: CommandRecord[] = [];

/** Moves virtual time on in small steps until `cond` holds (scene waits and read-back timeouts run on the clock). */
async function until<T>(cond: () => T, what: string): Promise<NonNullable<T>> {
  return waitFor(
    async () => {
      const v = cond();
      if (!v) await day.advance(1000);
      return v;
    },
    60_000,
    what,
  );
}

beforeAll(async () => {
  day = await SimDay.open({ site: siteFromYaml(YAML), noMeetings: true, engine: { verifyTimeoutMs: 30_000, attempts: 2, backoffMs: 1000 } });
  app = await buildApp(day.service);
  day.service.bus.on('command', (c) => commands.push(c));
  keypad = mqtt.connect(day.service.mqttUrl, { clientId: 'api-scenes-keypad', ...day.service.logins!.integrations });
  keypad.on('message', (topic, payload, packet) => {
    if (topic === 'roomctl/scn/rooms/R1/scene') results.push({ payload: JSON.parse(payload.toString()) as SceneResult, retain: packet.retain });
  });
  await keypad.subscribeAsync('roomctl/scn/rooms/R1/scene', { qos: 1 });
  await day.advance(20_000); // the simulated devices announce themselves
  await until(() => day.service.state.goodValue('R1', 'lights.main.on') !== undefined, 'the first light state');
}, 120_000);

afterAll(async () => {
  await keypad?.endAsync();
  await app?.close();
  await day?.close();
});

describe('scenes from a wall keypad and the API, over the real broker and the simulated room', () => {
  it('a keypad message with a plain scene name becomes device commands in order, each read back, and the result is published retained', async () => {
    const before = commands.length;
    await keypad.publishAsync('roomctl/scn/rooms/R1/scene/set', 'presentation', { qos: 1 });
    const published = await until(() => results.find((r) => r.payload.scene === 'presentation'), 'the presentation result on MQTT');
    expect(published.payload.ok).toBe(true);
    expect(published.payload.source).toBe('keypad');
    expect(published.payload.applied.map((a) => [a.point, a.confirmed])).toEqual([
      ['display.power', true],
      ['lights.main.on', true],
      ['lights.main.level', true],
      ['lights.board.on', true],
      ['lights.board.level', true],
    ]);
    expect(commands.slice(before).map((c) => c.point)).toEqual(['display.power', 'lights.main.on', 'lights.main.level', 'lights.board.on', 'lights.board.level']);
    // The room really changed: the devices report it.
    expect(day.service.state.goodValue('R1', 'lights.board.level')).toBe(90);
    expect(day.service.state.goodValue('R1', 'display.power')).toBe(true);
    // Retained: a subscriber arriving later (a wall panel after a restart) still gets it.
    const late = mqtt.connect(day.service.mqttUrl, { clientId: 'api-scenes-late', ...day.service.logins!.integrations });
    try {
      const got = new Promise<SceneResult>((resolve) => late.on('message', (_t, p) => resolve(JSON.parse(p.toString()) as SceneResult)));
      await late.subscribeAsync('roomctl/scn/rooms/R1/scene', { qos: 1 });
      expect((await got).scene).toBe('presentation');
    } finally {
      await late.endAsync();
    }
  });

  it('a keypad message as JSON {"scene": …} works the same way', async () => {
    await keypad.publishAsync('roomctl/scn/rooms/R1/scene/set', JSON.stringify({ scene: 'dark' }), { qos: 1 });
    const r = await until(() => results.find((x) => x.payload.scene === 'dark'), 'the dark result');
    expect(r.payload.ok).toBe(true);
    expect(day.service.state.goodValue('R1', 'lights.main.on')).toBe(false);
  });

  it('a keypad message naming an unknown scene or room, or garbage, is counted and ignored: no commands, the retained scene stays', async () => {
    const counts = day.service.api.keypad.counts;
    const rejectedBefore = counts.rejected;
    const commandsBefore = commands.length;
    const resultsBefore = results.length;
    await keypad.publishAsync('roomctl/scn/rooms/R1/scene/set', 'disco', { qos: 1 });
    await keypad.publishAsync('roomctl/scn/rooms/R9/scene/set', 'dark', { qos: 1 });
    await keypad.publishAsync('roomctl/scn/rooms/R1/scene/set', Buffer.from([0xff, 0x00, 0x7b]), { qos: 1 });
    await keypad.publishAsync('roomctl/scn/rooms/R1/scene/set', '{"scene": 42}', { qos: 1 });
    await waitFor(() => counts.rejected >= rejectedBefore + 4, 15_000, 'four rejections');
    await day.quiet();
    expect(commands.length).toBe(commandsBefore);
    expect(results.length).toBe(resultsBefore);
  });

  it('a scene activated through the API returns the read-back result, and a write the room will not take names its point and why', async () => {
    const token = app.roomctl.tokens.create({ role: 'attendant', rooms: ['R1'] }).token;
    const headers = { authorization: `Bearer ${token}` };
    const ok = await app.inject({ method: 'POST', url: '/api/v1/rooms/R1/scenes/presentation?wait=false', headers });
    expect(ok.statusCode).toBe(202);
    const applied = await until(() => results.filter((x) => x.payload.scene === 'presentation' && x.payload.source === 'api').at(-1), 'the API presentation result');
    expect(applied.payload.ok).toBe(true);

    day.sim.injectFault('R1', 'lights_stuck_on:main');
    const pending = app.inject({ method: 'POST', url: '/api/v1/rooms/R1/scenes/dark', headers });
    let answer: Awaited<typeof pending> | undefined;
    void pending.then((a) => (answer = a));
    await until(() => answer, 'the dark scene answer');
    expect(answer!.statusCode).toBe(200);
    const result = answer!.json<SceneResult>();
    expect(result.ok).toBe(false);
    expect(result.failed?.point).toBe('lights.main.on');
    expect(result.failed?.reason).toMatch(/not confirmed/);
    // It stopped at the failing write: the display (a later step) was left alone.
    expect(result.applied.map((a) => a.point)).toEqual(['lights.board.on', 'lights.main.on']);
    const published = await until(() => results.filter((x) => x.payload.scene === 'dark' && !x.payload.ok).at(-1), 'the failed result on MQTT');
    expect(published.payload.failed?.point).toBe('lights.main.on');
    day.sim.injectFault('R1', 'lights_stuck_on:main', true);
  });
});
