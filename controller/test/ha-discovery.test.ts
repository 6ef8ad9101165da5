import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttAdapter } from '../src/adapters/mqtt.ts';
import { SimDay } from '../src/cli/sim-day.ts';
import { silentLogger } from '../src/log.ts';
import { EventBus } from '../src/model/bus.ts';
import { RoomStateStore } from '../src/model/room-state.ts';
import { PHASES } from '../src/ha/discovery.ts';
import { HomeAssistantDiscovery } from '../src/ha/home-assistant.ts';
import { configSchemas, DISCOVERY_TOPIC } from './helpers/ha-discovery-schema.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Home Assistant MQTT discovery (issue 7), end to end: the real service (embedded aedes
 * broker, adapters, engine, keypad listener) beside the simulated building on virtual
 * time (SimDay), with discovery enabled. A plain mqtt.js client plays Home Assistant: it
 * reads the retained configs, checks each against the documented schema of its
 * component (helpers/ha-discovery-schema.ts), follows the state topics they name, and
 * activates a scene the way Home Assistant's MQTT scene does (payload_on on
 * command_topic).
 */
const ROOMS = `
  - id: 3F-301
    name: Board Room
    capacity: 12
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, port: 15299, unit: 1, poll_ms: 5000 } }
      - { name: air, profile: air-quality-mqtt, mqtt: { base: ha/3F-301/air } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: ha/3F-301/lights } }
    scenes:
      presentation: { label: { en: Presentation, zh-CN: 演示 }, steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 40 } ] }
      break: { steps: [ { set: lights.main.level, value: 100 } ] }`;
const SMALL_ROOM = `
  - id: 5F-501
    name: Small Room
    capacity: 6
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: ha/5F-501/lights } }
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true } ] }`;
const yaml = (rooms: string, ha = 'home_assistant: { enabled: true }') => `
site: { id: hq, name: Test HQ, timezone: Asia/Shanghai, language: en }
${ha}
simulation: { seed: 3, day: "2027-03-08", start: "08:30" }
rooms:${rooms}
`;

const NODE = 'homeassistant/+/roomctl_hq/+/config';
const config = (component: string, objectId: string) => `homeassistant/${component}/roomctl_hq/${objectId}/config`;
const EXPECTED = [
  config('sensor', '3f_301_hvac_temperature'),
  config('sensor', '3f_301_air_temperature'),
  config('binary_sensor', '3f_301_ready'),
  config('sensor', '3f_301_phase'),
  config('scene', '3f_301_scene_presentation'),
  config('scene', '3f_301_scene_break'),
  config('binary_sensor', '5f_501_ready'),
  config('sensor', '5f_501_phase'),
  config('scene', '5f_501_scene_meeting'),
].sort();

interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A client that subscribes and keeps every message it gets. */
async function listener(url: string, filters: string[], clientId: string, login?: { username: string; password: string }): Promise<{ client: MqttClient; seen: Seen[] }> {
  const client = mqtt.connect(url, { clientId, reconnectPeriod: 0, ...login });
  const seen: Seen[] = [];
  client.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(filters, { qos: 1 });
  return { client, seen };
}

describe('Home Assistant discovery', () => {
  let day: SimDay;
  let ha: { client: MqttClient; seen: Seen[] };
  const latest = (topic: string) => ha.seen.filter((m) => m.topic === topic).at(-1);
  const configs = () => new Map(ha.seen.filter((m) => DISCOVERY_TOPIC.test(m.topic) && m.payload).map((m) => [m.topic, JSON.parse(m.payload) as Record<string, unknown>]));

  beforeAll(async () => {
    day = await SimDay.open({ site: siteFromYaml(yaml(ROOMS + SMALL_ROOM)), noMeetings: true });
    ha = await listener(day.service.mqttUrl, ['homeassistant/#', 'roomctl/hq/#'], 'home-assistant', day.service.logins!.integrations);
    await waitFor(() => EXPECTED.every((t) => latest(t)), 15_000, 'every discovery config');
    // Let the simulated devices report and the state topics fill.
    await day.advance(60_000);
  });
  afterAll(async () => {
    await ha?.client.endAsync();
    await day?.close();
  });

  it('publishes one retained config per entity, each valid against the documented schema of its component and grouped under one device per room', () => {
    const all = configs();
    expect([...all.keys()].sort()).toEqual(EXPECTED);
    for (const t of EXPECTED) expect(ha.seen.find((m) => m.topic === t)!.retain).toBe(true);
    for (const [t, payload] of all) {
      const component = DISCOVERY_TOPIC.exec(t)![2] as keyof typeof configSchemas;
      const parsed = configSchemas[component].safeParse(payload);
      expect(parsed.success ? [] : parsed.error.issues.map((i) => `${t} ${i.path.join('.')}: ${i.message}`)).toEqual([]);
      expect(payload).toMatchObject({ availability_topic: 'roomctl/hq/status', origin: { name: 'roomctl' } });
      expect(payload.default_entity_id).toBe(`${component}.${payload.object_id as string}`);
    }
    const uniqueIds = [...all.values()].map((p) => p.unique_id);
    expect(new Set(uniqueIds).size).toBe(uniqueIds.length);
    const devicesOf = (room: string) => new Set([...all.entries()].filter(([t]) => t.includes(`/${room}_`)).map(([, p]) => JSON.stringify(p.device)));
    expect([...devicesOf('3f_301')].map((d) => JSON.parse(d))).toEqual([expect.objectContaining({ identifiers: ['roomctl_hq_3f_301'], name: 'Board Room' })]);
    expect([...devicesOf('5f_501')].map((d) => JSON.parse(d))).toEqual([expect.objectContaining({ identifiers: ['roomctl_hq_5f_501'], name: 'Small Room' })]);
    expect(all.get(config('sensor', '3f_301_hvac_temperature'))).toMatchObject({ name: 'Temperature (hvac)', device_class: 'temperature', unit_of_measurement: '°C' });
    expect(all.get(config('scene', '3f_301_scene_presentation'))).toMatchObject({ name: 'Presentation', command_topic: 'roomctl/hq/rooms/3F-301/scene/set', payload_on: 'presentation' });
    expect(latest('roomctl/hq/status')).toMatchObject({ payload: 'online', retain: true });
  });

  it('points the state topics and value templates at the retained state and readiness payloads roomctl publishes', () => {
    const all = configs();
    const temp = all.get(config('sensor', '3f_301_air_temperature'))!;
    expect(temp.state_topic).toBe('roomctl/hq/rooms/3F-301/state');
    expect(temp.value_template).toContain("get('air.temperature')");
    const state = JSON.parse(latest('roomctl/hq/rooms/3F-301/state')!.payload) as { points: Record<string, { value: unknown; quality: string }> };
    expect(state.points['air.temperature']).toMatchObject({ value: expect.any(Number), quality: 'good' });
    expect(state.points['hvac.temperature']).toMatchObject({ value: expect.any(Number) });

    const ready = all.get(config('binary_sensor', '3f_301_ready'))!;
    const phase = all.get(config('sensor', '3f_301_phase'))!;
    expect(ready.state_topic).toBe('roomctl/hq/rooms/3F-301/readiness');
    expect(phase).toMatchObject({ state_topic: 'roomctl/hq/rooms/3F-301/readiness', value_template: '{{ value_json.phase }}', options: [...PHASES] });
    // The payload the engine publishes retained on that topic.
    const readiness = day.service.engine.readinessOf('3F-301') as { phase: string; ready: boolean | null; failing: string[]; meeting: unknown };
    expect(PHASES).toContain(readiness.phase);
    expect([true, false, null]).toContain(readiness.ready);
    expect(Array.isArray(readiness.failing)).toBe(true);
    expect(JSON.stringify(readiness)).not.toMatch(/title|organizer/);
  });

  it('applies the scene when Home Assistant activates a scene entity, through the keypad topic the entity names', async () => {
    const scene = configs().get(config('scene', '3f_301_scene_presentation'))!;
    await ha.client.publishAsync(scene.command_topic as string, scene.payload_on as string, { qos: scene.qos as 0 | 1, retain: scene.retain as boolean });
    let result: { scene?: string; ok?: boolean; source?: string } = {};
    await waitFor(
      async () => {
        await day.advance(1000);
        const m = latest('roomctl/hq/rooms/3F-301/scene');
        result = m ? (JSON.parse(m.payload) as typeof result) : {};
        return result.scene === 'presentation';
      },
      30_000,
      'the presentation scene result',
      0,
    );
    expect(result).toMatchObject({ scene: 'presentation', ok: true, source: 'keypad' });
    expect(day.service.state.goodValue('3F-301', 'lights.main.level')).toBe(40);
    expect(day.service.state.goodValue('3F-301', 'lights.main.on')).toBe(true);
  });

  it('sends the configs again when Home Assistant comes online, and removes the entities of a room that is no longer configured', async () => {
    const before = ha.seen.filter((m) => m.topic === config('scene', '3f_301_scene_break')).length;
    await ha.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await waitFor(() => ha.seen.filter((m) => m.topic === config('scene', '3f_301_scene_break')).length > before, 15_000, 'the configs again after the birth message');

    // roomctl restarted (a connection of its own) with 5F-501 gone from its config: the
    // feature finds that room's retained configs and clears them.
    const site = siteFromYaml(yaml(ROOMS));
    const connection = new MqttAdapter({ url: day.service.mqttUrl, clientId: 'roomctl-restarted', ...day.service.logins!.roomctl, sitePrefix: 'test/restarted', reconnect: { minMs: 500, maxMs: 2000 } }, [], new RoomStateStore(site, new EventBus(), day.clock), new EventBus(), day.clock, silentLogger);
    await connection.start();
    const shrunk = new HomeAssistantDiscovery({ site, mqtt: connection, sitePrefix: day.service.sitePrefix });
    await shrunk.start();
    const gone = EXPECTED.filter((t) => t.includes('/5f_501_'));
    await waitFor(() => gone.every((t) => latest(t)?.payload === ''), 15_000, "empty payloads on the removed room's config topics");
    shrunk.stop();
    await connection.stop();
    expect(shrunk.counts.removed).toBe(gone.length);

    // What a Home Assistant starting now would find: only the configured room's entities.
    const fresh = await listener(day.service.mqttUrl, [NODE], 'home-assistant-fresh', day.service.logins!.integrations);
    await waitFor(() => fresh.seen.length >= EXPECTED.length - gone.length, 15_000, 'the retained configs');
    await fresh.client.endAsync();
    expect(fresh.seen.filter((m) => m.retain && m.payload).map((m) => m.topic).sort()).toEqual(EXPECTED.filter((t) => !gone.includes(t)));
  });

  it('publishes nothing unless home_assistant is enabled: it is off by default', async () => {
    const site = siteFromYaml(yaml(ROOMS, ''));
    expect(site.config.home_assistant).toEqual({ enabled: false, discovery_prefix: 'homeassistant' });
    const off = new HomeAssistantDiscovery({ site, mqtt: day.service.mqtt, sitePrefix: day.service.sitePrefix });
    await off.start();
    off.stop();
    expect(off.counts.published).toBe(0);
  });
});
