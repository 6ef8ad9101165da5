import { execFile } from 'node:child_process';
import { connect as tcpConnect, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashBrokerPassword } from '../src/adapters/broker-auth.ts';
import { SimDay } from '../src/cli/sim-day.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Issue 11, item 1: the embedded broker refuses anonymous clients (on loopback too),
 * gives every login only the topics the config derives for it, and bounds packet size
 * and retained messages. Over real sockets: roomctl's embedded aedes, the simulated
 * devices with their per-run logins, mqtt.js and mosquitto_pub as the attackers.
 */
const yaml = (hash: string) => `
site: { id: sec, name: Secure building, timezone: Asia/Shanghai }
mqtt:
  broker:
    max_packet_bytes: 65536
    max_retained_per_client: 3
    max_connections_per_s: 10
    users:
      - { username: door-r2, password: "\${DOOR_R2_PASSWORD}", devices: [R2/door] }
      - { username: keypad-r1, password_hash: "${hash}", keypads: [R1] }
      - { username: lab, password: lab-pw, publish: ["lab/#"], subscribe: ["lab/#"] }
rooms:
  - id: R1
    name: Room 1
    capacity: 8
    devices:
      - { name: door, profile: door-mqtt, mqtt: { base: sec/R1/door } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: sec/R1/lights }, channels: { zone: [main] } }
    scenes:
      dark: { steps: [ { set: lights.main.on, value: false } ] }
  - id: R2
    name: Room 2
    capacity: 8
    devices:
      - { name: door, profile: door-mqtt, mqtt: { base: sec/R2/door } }
simulation: { seed: 1, day: 2025-07-16, start: "07:00" }
`;

let day: SimDay;
const open: MqttClient[] = [];

function connect(options: mqtt.IClientOptions): Promise<MqttClient> {
  return mqtt.connectAsync(day.service.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...options }).then((c) => {
    open.push(c);
    return c;
  });
}

/** Resolves once the broker has closed this client's connection. */
function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => (client.connected ? client.once('close', () => resolve()) : resolve()));
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => execFile(cmd, args, { timeout: 15_000 }, (err, out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${out}${stderr}` })));
}

beforeAll(async () => {
  const hash = await hashBrokerPassword('keypad-secret');
  day = await SimDay.open({ site: siteFromYaml(yaml(hash), { DOOR_R2_PASSWORD: 'r2-door-secret' }), noMeetings: true });
  await day.advance(10_000);
  await waitFor(() => day.service.state.goodValue('R1', 'door.locked') !== undefined && day.service.state.goodValue('R2', 'door.locked') !== undefined, 15_000, 'both doors reporting');
}, 60_000);

afterAll(async () => {
  for (const c of open) await c.endAsync(true).catch(() => {});
  await day?.close();
});

describe('the embedded broker: authentication and per-login permissions', () => {
  it('runs the simulated building with per-run logins: every device online, none anonymous', () => {
    const logins = day.service.logins!;
    expect(logins.device('R1', 'door')!.username).toBe('sim-R1-door');
    expect(logins.device('R2', 'door')!.username).toBe('door-r2');
    expect(day.service.state.goodValue('R1', 'lights.main.on')).not.toBeUndefined();
    expect(day.service.mqtt.connected).toBe(true);
  });

  it('refuses an anonymous client on loopback, and an anonymous mosquitto_pub cannot unlock a door: nothing is actuated', async () => {
    const locked = day.service.state.goodValue('R1', 'door.locked');
    const commandsBefore = day.sim.stats.commands;
    const refused = await mqtt.connectAsync(day.service.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000 }).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/Not authorized/i);
    const port = new URL(day.service.mqttUrl).port;
    const pub = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-q', '1', '-t', 'sec/R1/door/set', '-m', JSON.stringify({ locked: !locked })]);
    expect(pub.code).not.toBe(0);
    expect(pub.output).toMatch(/not authori[sz]ed/i);
    const wrong = await mqtt.connectAsync(day.service.mqttUrl, { reconnectPeriod: 0, username: 'door-r2', password: 'guess' }).catch((e: Error) => e);
    expect((wrong as Error).message).toMatch(/Bad username or password/i);
    await day.advance(5000);
    expect(day.sim.stats.commands).toBe(commandsBefore);
    expect(day.service.state.goodValue('R1', 'door.locked')).toBe(locked);
    expect(day.service.brokerRefused!.logins).toBeGreaterThanOrEqual(3);
  });

  it("refuses a device that publishes another room's door command (its connection is closed, nothing actuated) and will not let it subscribe to that room's commands", async () => {
    const locked = day.service.state.goodValue('R1', 'door.locked');
    const commandsBefore = day.sim.stats.commands;
    const refusedBefore = { ...day.service.brokerRefused! };
    // R2's door, its credentials read from its flash by an attacker, under another client id.
    const r2 = await connect({ clientId: 'stolen-r2-door', username: 'door-r2', password: 'r2-door-secret' });
    // SUBACK 128 (failure) for R1's command topic, QoS 1 for its own.
    await expect(r2.subscribeAsync('sec/R1/door/set', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    expect((await r2.subscribeAsync('sec/R2/door/set', { qos: 1 })).map((g) => [g.topic, g.qos])).toEqual([['sec/R2/door/set', 1]]);
    const gone = closed(r2);
    r2.publish('sec/R1/door/set', JSON.stringify({ locked: !locked, cmd_id: 'evil-1' }), { qos: 1 });
    await gone;
    await day.advance(5000);
    expect(day.sim.stats.commands).toBe(commandsBefore);
    expect(day.service.state.goodValue('R1', 'door.locked')).toBe(locked);
    expect(day.service.brokerRefused!.publishes).toBe(refusedBefore.publishes + 1);
    expect(day.service.brokerRefused!.subscriptions).toBe(refusedBefore.subscriptions + 1);
  });

  it('lets a device publish its own state but not impersonate roomctl (its client id is reserved)', async () => {
    const takeover = await mqtt.connectAsync(day.service.mqttUrl, { reconnectPeriod: 0, clientId: 'roomctl-sec', username: 'door-r2', password: 'r2-door-secret' }).catch((e: Error) => e);
    expect((takeover as Error).message).toMatch(/Identifier rejected/i);
    expect(day.service.mqtt.connected).toBe(true);
    const r2 = await connect({ clientId: 'r2-door-bench', username: 'door-r2', password: 'r2-door-secret' });
    await r2.publishAsync('sec/R2/door/state', JSON.stringify({ contact: 'open', locked: false }), { qos: 1 });
    await waitFor(() => day.service.state.goodValue('R2', 'door.contact') === 'open', 10_000, 'the R2 door reading');
    await r2.endAsync();
  });

  it("lets a keypad (password stored as an scrypt hash) ask for its room's scene and nothing else", async () => {
    const kp = await connect({ clientId: 'kp-r1', username: 'keypad-r1', password: 'keypad-secret' });
    const counts = day.service.api.keypad.counts;
    const accepted = counts.accepted;
    await kp.publishAsync('roomctl/sec/rooms/R1/scene/set', JSON.stringify({ scene: 'dark', id: 'kp-1' }), { qos: 1 });
    await waitFor(() => counts.accepted === accepted + 1, 10_000, 'the press taken');
    const gone = closed(kp);
    kp.publish('roomctl/sec/rooms/R2/scene/set', 'dark', { qos: 1 });
    await gone;
    expect(counts.accepted).toBe(accepted + 1);
  });
});

describe('the embedded broker: limits', () => {
  it('closes the connection of a 10 MB publish before buffering it, and delivers nothing of it', async () => {
    const watcher = await connect({ clientId: 'lab-watcher', username: 'lab', password: 'lab-pw' });
    const got: string[] = [];
    watcher.on('message', (t) => got.push(t));
    await watcher.subscribeAsync('lab/#', { qos: 1 });
    const big = await connect({ clientId: 'lab-big', username: 'lab', password: 'lab-pw' });
    const before = day.service.brokerRefused!.oversized;
    const gone = closed(big);
    big.publish('lab/big', Buffer.alloc(10 * 1024 * 1024, 0x41), { qos: 1 });
    await gone;
    expect(day.service.brokerRefused!.oversized).toBe(before + 1);
    await watcher.publishAsync('lab/small', 'ok', { qos: 1 });
    await waitFor(() => got.includes('lab/small'), 10_000, 'a small message after the big one');
    expect(got).toEqual(['lab/small']);
  });

  it('refuses a retained message past the per-login limit, and counts a deleted one as freed', async () => {
    const lab = await connect({ clientId: 'lab-retain', username: 'lab', password: 'lab-pw' });
    for (const n of [1, 2, 3]) await lab.publishAsync(`lab/r${n}`, `v${n}`, { qos: 1, retain: true });
    await lab.publishAsync('lab/r1', 'v1 again', { qos: 1, retain: true }); // same topic: still three
    const before = day.service.brokerRefused!.retained;
    const gone = closed(lab);
    lab.publish('lab/r4', 'v4', { qos: 1, retain: true });
    await gone;
    expect(day.service.brokerRefused!.retained).toBe(before + 1);
    const again = await connect({ clientId: 'lab-retain-2', username: 'lab', password: 'lab-pw' });
    await again.publishAsync('lab/r2', '', { qos: 1, retain: true }); // deleted: one free
    await again.publishAsync('lab/r4', 'v4', { qos: 1, retain: true });
    expect(again.connected).toBe(true);
    expect(day.service.brokerRefused!.retained).toBe(before + 1);
  });

  it("never caps roomctl's own retained topics (state, readiness per room: more than the per-login limit of 3 here) nor drops its connection", async () => {
    await day.advance(60_000);
    expect(day.service.mqtt.connected).toBe(true);
    expect(day.service.mqtt.stats().reconnects).toBe(0);
    expect(day.service.brokerRefused).toMatchObject({ rateLimited: 0 });
  });

  it('closes new connections from one address beyond max_connections_per_s (a burst of 30 against 10 a second)', async () => {
    // The tests before made connections from this address too: let its bucket fill up again (10 tokens, 10/s).
    await new Promise((r) => setTimeout(r, 1100));
    const before = day.service.brokerRefused!.rateLimited;
    const port = Number(new URL(day.service.mqttUrl).port);
    const sockets: Socket[] = [];
    await Promise.all(
      Array.from({ length: 30 }, () => new Promise<void>((resolve) => {
        const s = tcpConnect({ host: '127.0.0.1', port }, () => resolve());
        s.on('error', () => resolve());
        sockets.push(s);
      })),
    );
    await waitFor(() => day.service.brokerRefused!.rateLimited - before >= 18, 10_000, 'the burst refused');
    for (const s of sockets) s.destroy();
    // 10 in the bucket, refilled at 10/s while the burst lasts (a few ms; up to two more on a busy machine).
    expect(day.service.brokerRefused!.rateLimited - before).toBeGreaterThanOrEqual(18);
    expect(day.service.brokerRefused!.rateLimited - before).toBeLessThanOrEqual(20);
    expect(day.service.mqtt.connected).toBe(true);
  });
});
