import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.ts';
import type { PointValue } from '../src/model/points.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { RoomctlService } from '../src/service.ts';
import { SimulatedBuilding } from '../../devices/sim/building.ts';
import { localToEpoch } from '../../devices/sim/local-time.ts';
import { pointKey } from '../../devices/sim/sim-device.ts';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.ts';
import { FLOWS_DIR, startFlows, startKeypadPeer, startSmtpPeer, startWebhookPeer, type FlowsNodeRed, type KeypadPeer, type SmtpPeer, type WebhookPeer } from './helpers/node-red.ts';
import { siteFromYaml } from './helpers/site.ts';
import { freePort, waitFor } from './helpers/wait.ts';

/**
 * The shipped Node-RED flows (flows/), started as `npm run flows` starts them — Node-RED 4
 * as a child process — next to a real roomctl: the service with its HTTP API, on a real
 * Mosquitto, beside the simulated building, on a VirtualClock running 20× real time.
 * The peers the flows talk to are real too: a Modbus keypad (modbus-serial's ServerTCP),
 * a chat robot's webhook (node:http) and a mail server asking for a login (smtp-server).
 *
 *   3F-301  wall keypads: a Modbus keypad (four keys, four LEDs) and a zigbee2mqtt remote
 *   3F-302  bookings and alerts: its display takes the power command but never comes on
 */
const SPEED = 20;
const TZ = 'Asia/Shanghai';
const SITE = 'flowtest';
const room = (id: string, unit: number, policy = 'default') => `
  - id: ${id}
    name: Room ${id}
    capacity: 16
    policy: ${policy}
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw, unit: ${unit} } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: ft/${id}/lights }, channels: { zone: [main, board] } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: ft/${id}/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: ft/${id}/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: ft/${id}/occupancy } }
      - { name: display, profile: display-mqtt, mqtt: { base: ft/${id}/display } }
    scenes:
      meeting:
        steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 }, { set: lights.board.on, value: true }, { set: lights.board.level, value: 100 } ]
      presentation:
        steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 30 }, { set: lights.board.on, value: false }, { wait_ms: 500 }, { set: display.power, value: true }, { set: display.input, value: hdmi1 } ]
      break:
        steps: [ { set: audio.master.mute, value: true }, { set: lights.main.level, value: 60 } ]
      close:
        allow_locks: true
        steps: [ { set: display.power, value: false }, { set: lights.main.on, value: false }, { set: lights.board.on, value: false } ]`;
const yaml = (mqttUrl: string, gwPort: number) => `
site: { id: ${SITE}, name: Flows Test Building, timezone: ${TZ} }
mqtt: { url: "${mqttUrl}" }
api: { host: 127.0.0.1, port: 0 }
modbus:
  gateways: [ { id: gw, tcp: { host: 127.0.0.1, port: ${gwPort} }, timeout_ms: 500 } ]
simulation: { seed: 7 }
# The keypad room's lights stay as the scenes leave them: the engine's lights-grace
# routine (lights on in an idle room → off after N minutes) is not under test here.
policies: { keypad-room: { lights_grace_minutes: 600 } }
rooms:${room('3F-301', 1, 'keypad-room')}${room('3F-302', 2)}
`;

const OA_TOKEN = 'oa-shared-secret-7f3a';
const ROBOT_KEY = 'robot-key-0c9d41';
const SMTP_LOGIN = { user: 'roomctl-alerts', pass: 'mail-pass-5b8e2c' };
const KEYPAD_SCENES = ['meeting', 'presentation', 'break', 'close'];

let mosquitto: Mosquitto;
let clock: VirtualClock;
let service: RoomctlService;
let sim: SimulatedBuilding;
let dataDir: string;
let red: FlowsNodeRed;
let watcher: MqttClient;
let keypad: KeypadPeer;
let webhook: WebhookPeer;
let smtp: SmtpPeer;
const scenes: Record<string, { scene: string; ok: boolean; source: string; ts: number }> = {};

const simValue = (roomId: string, point: string): PointValue | undefined => {
  const r = sim.rooms.find((x) => x.room.id === roomId)!;
  for (const m of r.models) if (m.device.points.some((p) => p.id === point)) return m.read(pointKey(m.device, point));
  return undefined;
};
/** Wall-clock text the way OA systems send it: local time, no zone. */
const oaTime = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
const postBooking = async (body: unknown, token: string | null = OA_TOKEN) => {
  const res = await fetch(`${red.url}/roomctl/bookings`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** A failed wait, with what roomctl and the flows were doing. */
async function explain(err: Error): Promise<never> {
  const status = await red.status().catch((e: Error) => e.message);
  throw new Error(`${err.message}\nroomctl alerts: ${JSON.stringify(service.engine.activeAlerts())}\nwebhook got: ${JSON.stringify(webhook.requests.map((h) => h.body))}\nmails: ${smtp.mails.length}\nflows status: ${JSON.stringify(status)}\nNode-RED:\n${red.log()}`);
}

beforeAll(async () => {
  mosquitto = await startMosquitto();
  const [gwPort, keypadPort] = [await freePort(), await freePort()];
  const site = siteFromYaml(yaml(mosquitto.url, gwPort));
  clock = VirtualClock.running(localToEpoch('2025-07-16', '08:50', TZ), SPEED);
  dataDir = mkdtempSync(join(tmpdir(), 'roomctl-flows-data-'));
  service = new RoomctlService({ site, logger: silentLogger, clock, dataDir });
  await service.start([], (url) => {
    sim = new SimulatedBuilding({ site, clock, brokerUrl: url });
    return [{ name: 'simulated building', start: () => sim.start(), stop: () => sim.stop() }];
  });
  sim.injectFault('3F-302', 'display_no_power');
  const token = service.api.app!.roomctl.tokens.create({ role: 'scheduler', label: 'node-red flows test' }).token;

  watcher = mqtt.connect(mosquitto.url, { clientId: 'flows-test-watcher' });
  watcher.on('message', (topic, payload) => {
    const m = /rooms\/([^/]+)\/scene$/.exec(topic);
    if (m) scenes[m[1]!] = JSON.parse(payload.toString());
  });
  await watcher.subscribeAsync(`roomctl/${SITE}/rooms/+/scene`, { qos: 1 });

  keypad = await startKeypadPeer(keypadPort, KEYPAD_SCENES.length);
  webhook = await startWebhookPeer();
  smtp = await startSmtpPeer(SMTP_LOGIN);

  red = await startFlows({
    ROOMCTL_SITE: SITE,
    ROOMCTL_URL: service.api.url!,
    ROOMCTL_TOKEN: token,
    ROOMCTL_TIMEZONE: TZ,
    MQTT_URL: mosquitto.url,
    MODBUS_KEYPADS: JSON.stringify([{ host: '127.0.0.1', port: keypadPort, unit: 1, room: '3F-301', buttons: KEYPAD_SCENES, leds: 0, poll_ms: 100 }]),
    MQTT_BUTTONS: JSON.stringify([{ topic: 'zigbee2mqtt/301 remote', room: '3F-301', actions: { single: 'meeting', double: 'break' } }]),
    BOOKING_WEBHOOK_TOKEN: OA_TOKEN,
    ALERT_WEBHOOK_URL: `${webhook.url}/cgi-bin/webhook/send?key=${ROBOT_KEY}`,
    ALERT_WEBHOOK_STYLE: 'wecom',
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtp.port),
    SMTP_USER: SMTP_LOGIN.user,
    SMTP_PASSWORD: SMTP_LOGIN.pass,
    ALERT_EMAIL_TO: 'av-duty@example.org',
    ALERT_EMAIL_FROM: 'roomctl@example.org',
    NODE_RED_CREDENTIAL_SECRET: randomBytes(16).toString('hex'),
  });
}, 300_000);

afterAll(async () => {
  await red?.stop();
  await watcher?.endAsync();
  await service?.stop();
  await keypad?.close();
  await webhook?.close();
  await smtp?.close();
  await mosquitto?.dispose();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

describe('the Node-RED flows next to a running roomctl', () => {
  it('reads its whole configuration from the environment and reports no problems with it', async () => {
    const s = await red.status();
    expect(s.site).toBe(SITE);
    expect(s.configured).toEqual({ roomctl: true, mqttButtons: true, modbusKeypads: true, bookingToken: true, alertWebhook: true, alertEmail: true });
    expect(s.problems).toEqual([]);
  });

  it('runs the scene of a key pressed on a Modbus wall keypad on the simulated devices, and lights that key’s LED', async () => {
    await waitFor(async () => (await red.status()).modbusKeypads[0]?.online, 60_000, 'the flows to reach the Modbus keypad');
    await keypad.press(1); // presentation
    await waitFor(() => scenes['3F-301']?.scene === 'presentation', 60_000, 'roomctl to report the presentation scene');
    expect(scenes['3F-301']).toMatchObject({ scene: 'presentation', ok: true, source: 'keypad' });
    expect(simValue('3F-301', 'lights.main.level')).toBe(30);
    expect(simValue('3F-301', 'lights.board.on')).toBe(false);
    expect(simValue('3F-301', 'display.power')).toBe(true);
    expect(simValue('3F-301', 'display.input')).toBe('hdmi1');
    await waitFor(() => keypad.leds.join() === 'false,true,false,false', 30_000, 'the presentation key’s LED alone to be lit');
    const s = await red.status();
    expect(s.modbusKeypads[0]).toMatchObject({ room: '3F-301', presses: 1 });
  });

  it('runs the scene an MQTT button’s action is mapped to, and ignores actions it has no scene for', async () => {
    // Unmapped actions double as a probe: once one is counted, the button topic is subscribed.
    await waitFor(
      async () => {
        await watcher.publishAsync('zigbee2mqtt/301 remote', JSON.stringify({ action: 'hold', battery: 97 }), { qos: 1 });
        return (await red.status()).buttons.ignored > 0;
      },
      60_000,
      'the flows to hear the MQTT button',
      500,
    );
    const before = await red.status();
    await watcher.publishAsync('zigbee2mqtt/301 remote', JSON.stringify({ action: 'single', battery: 97, linkquality: 120 }), { qos: 1 });
    await waitFor(() => scenes['3F-301']?.scene === 'meeting', 60_000, 'roomctl to report the meeting scene');
    expect(scenes['3F-301']).toMatchObject({ scene: 'meeting', ok: true, source: 'keypad' });
    expect(simValue('3F-301', 'lights.main.level')).toBe(80);
    expect(simValue('3F-301', 'lights.board.on')).toBe(true);
    expect(simValue('3F-301', 'lights.board.level')).toBe(100);
    // The Modbus keypad's LEDs follow the room's scene, whatever ran it.
    await waitFor(() => keypad.leds.join() === 'true,false,false,false', 30_000, 'the meeting key’s LED alone to be lit');
    const after = await red.status();
    expect(after.buttons.pressed).toBe(before.buttons.pressed + 1);
  });

  it('turns a booking the OA system posts into a roomctl meeting with zoned times, moves it on an update and cancels it on a cancellation', async () => {
    const booking = {
      eventType: 'MEETING_CREATED',
      eventTime: '2025-07-16 08:52:10',
      data: {
        meetingId: 'HY-20250717-0042',
        subject: 'Budget review with the bureau',
        roomCode: '3F-301',
        roomName: '301 会议室',
        startTime: '2025-07-17 14:00:00',
        endTime: '2025-07-17 15:30:00',
        organizer: { userId: 'liwei', name: 'Li Wei', dept: 'Finance' },
        attendeeCount: 12,
        securityLevel: 'VIP3',
        status: 'confirmed',
      },
    };
    const created = await postBooking(booking);
    expect(created).toEqual({ status: 200, body: { ok: true, meetingId: 'HY-20250717-0042', change: 'added' } });
    const m = service.schedule.get('HY-20250717-0042')!;
    expect(m).toMatchObject({ room: '3F-301', level: 'vip3', attendees: 12, status: 'scheduled', title: 'Budget review with the bureau', organizer: 'Li Wei' });
    expect(m.start).toBe(Date.parse('2025-07-17T14:00:00+08:00'));
    expect(m.end).toBe(Date.parse('2025-07-17T15:30:00+08:00'));

    expect((await postBooking(booking)).body).toMatchObject({ ok: true, change: 'unchanged' });
    const moved = await postBooking({ ...booking, eventType: 'MEETING_UPDATED', data: { ...booking.data, startTime: '2025-07-17 15:00:00', endTime: '2025-07-17 16:00:00' } });
    expect(moved.body).toMatchObject({ ok: true, change: 'moved' });
    expect(service.schedule.get('HY-20250717-0042')!.start).toBe(Date.parse('2025-07-17T15:00:00+08:00'));

    const cancelled = await postBooking({ eventType: 'MEETING_CANCELLED', data: { meetingId: 'HY-20250717-0042' } });
    expect(cancelled).toEqual({ status: 200, body: { ok: true, meetingId: 'HY-20250717-0042', change: 'cancelled' } });
    expect(service.schedule.get('HY-20250717-0042')!.status).toBe('cancelled');
  });

  it('refuses a booking without the webhook token, one it cannot read and one roomctl refuses, each with the reason, and books none of them', async () => {
    const data = { meetingId: 'HY-REFUSED-1', subject: 'x', roomCode: '3F-301', startTime: '2025-07-18 10:00:00', endTime: '2025-07-18 11:00:00' };
    const before = (await red.status()).bookings;

    const noToken = await postBooking({ eventType: 'MEETING_CREATED', data }, null);
    expect(noToken).toMatchObject({ status: 401, body: { ok: false, error: 'unauthorized' } });
    const wrongToken = await postBooking({ eventType: 'MEETING_CREATED', data }, 'guess');
    expect(wrongToken.status).toBe(401);

    const noStart = await postBooking({ eventType: 'MEETING_CREATED', data: { ...data, startTime: undefined } });
    expect(noStart).toMatchObject({ status: 400, body: { ok: false, error: 'invalid_booking' } });
    expect(String(noStart.body.message)).toMatch(/^data\.startTime: missing/);
    const badTime = await postBooking({ eventType: 'MEETING_CREATED', data: { ...data, endTime: 'tomorrow afternoon' } });
    expect(String(badTime.body.message)).toMatch(/^data\.endTime: "tomorrow afternoon" is not a time/);

    const unknownRoom = await postBooking({ eventType: 'MEETING_CREATED', data: { ...data, roomCode: '9F-999' } });
    expect(unknownRoom.status).toBeGreaterThanOrEqual(400);
    expect(unknownRoom.status).toBeLessThan(500);
    expect(unknownRoom.body).toMatchObject({ ok: false, meetingId: 'HY-REFUSED-1' });
    expect(String(unknownRoom.body.message)).toMatch(/9F-999/);

    expect(service.schedule.get('HY-REFUSED-1')).toBeUndefined();
    const after = (await red.status()).bookings;
    expect(after.refused - before.refused).toBe(5);
    expect(after.forwarded).toBe(before.forwarded);
  });

  it('sends an alert roomctl raises for a booked meeting to the chat robot and by email, without the meeting’s title or organizer (P15)', async () => {
    // A payload that is no alert doubles as a probe: once it is counted, the alert topic is subscribed.
    await waitFor(
      async () => {
        await watcher.publishAsync(`roomctl/${SITE}/alerts`, JSON.stringify({ probe: true }), { qos: 1 });
        return (await red.status()).alerts.ignored > 0;
      },
      60_000,
      'the flows to hear roomctl’s alert topic',
      500,
    );
    // Booked late (P13): every preparation step runs at once, and the display will not come on.
    const start = Math.ceil((clock.now() + 20 * 60_000) / 60_000) * 60_000;
    const secret = { subject: 'Merger talks with Hengda Group', organizer: 'Director Wang' };
    const booked = await postBooking({
      eventType: 'MEETING_CREATED',
      data: { meetingId: 'HY-20250716-0107', subject: secret.subject, roomCode: '3F-302', startTime: oaTime(start), endTime: oaTime(start + 3 * 3600_000), organizer: { name: secret.organizer }, attendeeCount: 8 },
    });
    expect(booked.body).toMatchObject({ ok: true, change: 'added' });
    expect(service.schedule.get('HY-20250716-0107')).toMatchObject({ title: secret.subject, organizer: secret.organizer });

    const hook = await waitFor(() => webhook.requests.find((h) => h.body.includes('HY-20250716-0107') && h.body.includes('display_on')), 150_000, 'the display_on alert at the webhook').catch(explain);
    expect(hook.url).toBe(`/cgi-bin/webhook/send?key=${ROBOT_KEY}`);
    expect(hook.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(hook.body) as { msgtype: string; markdown: { content: string } };
    expect(body.msgtype).toBe('markdown');
    expect(body.markdown.content).toMatch(/^(<font color="warning">)?\*\*【roomctl (严重告警|告警)】3F-302 · display_on\*\*/);
    expect(body.markdown.content).toContain('> 会议编号: HY-20250716-0107');
    const roomctlAlert = service.engine.activeAlerts('3F-302').find((a) => a.check === 'display_on');
    expect(roomctlAlert).toMatchObject({ meetingId: 'HY-20250716-0107', state: 'raised' });

    const mail = await waitFor(() => smtp.mails.find((m) => m.raw.includes('HY-20250716-0107') && m.raw.includes('display_on')), 60_000, 'the display_on alert by email').catch(explain);
    expect(mail).toMatchObject({ from: 'roomctl@example.org', to: ['av-duty@example.org'], user: SMTP_LOGIN.user });
    expect(mail.raw).toMatch(/^Subject: /m);

    for (const text of [...webhook.requests.map((h) => h.body), ...smtp.mails.map((m) => m.raw)]) {
      expect(text).not.toContain(secret.subject);
      expect(text).not.toContain(secret.organizer);
      expect(text).not.toContain('Hengda');
    }
    const s = await red.status();
    expect(s.alerts.webhook.failed).toBe(0);
    expect(s.alerts.email.failed).toBe(0);
    expect(s.alerts.email.sent).toBeGreaterThanOrEqual(1);
  }, 300_000);

  it('wires every node of flows.json to nodes that exist, using core nodes and only the modules flows/package.json installs', () => {
    const flows = JSON.parse(readFileSync(join(FLOWS_DIR, 'flows.json'), 'utf8')) as { id: string; type: string; z?: string; wires?: string[][]; scope?: string[]; broker?: string; libs?: { module: string }[] }[];
    const ids = new Set(flows.map((n) => n.id));
    expect(ids.size).toBe(flows.length);
    const dangling = flows.flatMap((n) => [...(n.wires ?? []).flat(), ...(n.scope ?? []), ...(n.z ? [n.z] : []), ...(n.broker && n.type !== 'mqtt-broker' ? [n.broker] : [])].filter((ref) => !ids.has(ref)).map((ref) => `${n.id} → ${ref}`));
    expect(dangling).toEqual([]);
    const core = ['tab', 'comment', 'inject', 'function', 'mqtt in', 'mqtt out', 'mqtt-broker', 'http in', 'http request', 'http response', 'delay', 'catch', 'complete'];
    expect([...new Set(flows.map((n) => n.type))].filter((t) => !core.includes(t))).toEqual(['e-mail']);
    const pkg = JSON.parse(readFileSync(join(FLOWS_DIR, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['modbus-serial', 'node-red-node-email']);
    const libs = [...new Set(flows.flatMap((n) => (n.libs ?? []).map((l) => l.module)))].sort();
    expect(libs).toEqual(['crypto', 'modbus-serial']);
  });

  it('keeps every credential out of flows.json: secrets come from the environment, and the credentials file holds them only encrypted', () => {
    const flows = JSON.parse(readFileSync(join(FLOWS_DIR, 'flows.json'), 'utf8')) as Record<string, unknown>[];
    const text = JSON.stringify(flows);
    expect(flows.some((n) => 'credentials' in n)).toBe(false);
    expect(flows.find((n) => n.type === 'mqtt-broker')).toMatchObject({ broker: '${MQTT_URL}' });
    expect(flows.find((n) => n.type === 'e-mail')).toMatchObject({ server: '${SMTP_HOST}', port: '${SMTP_PORT}', name: '' });
    expect(text).not.toMatch(/key=|access_token=|rct_[0-9a-f]{10}_|"password"\s*:/);
    const creds = readFileSync(join(red.userDir, 'flows_cred.json'), 'utf8');
    expect(Object.keys(JSON.parse(creds))).toEqual(['$']);
    expect(creds).not.toContain(SMTP_LOGIN.pass);
    expect(creds).not.toContain(SMTP_LOGIN.user);
    // …and Node-RED could read it: the mail server's login above was the one from the environment.
    expect(smtp.mails.every((m) => m.user === SMTP_LOGIN.user)).toBe(true);
  });
});
