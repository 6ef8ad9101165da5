import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ServerTCP } from 'modbus-serial';
import mqtt from 'mqtt';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.ts';
import { freePort, waitFor } from './helpers/wait.ts';

const root = resolve(import.meta.dirname, '../..');

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function startRoomctl(config: string): Run {
  const child = spawn(process.execPath, [join(root, 'bin/roomctl.js'), 'start', '--config', config, '--status-every', '1'], {
    cwd: root,
    // Its data under a state home of its own (data-dir.ts), not the user's.
    env: { ...process.env, ROOMCTL_LOG_LEVEL: 'info', XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'roomctl-start-state-')) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exit };
}

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'roomctl-start-'));
  const file = join(dir, 'site.yaml');
  writeFileSync(file, text);
  return file;
}

type RoomStateMessage = { points: Record<string, { value: unknown; quality: string }>; devices: Record<string, { online: boolean }> };

describe('roomctl start against Mosquitto and a Modbus TCP server', () => {
  let mosquitto: Mosquitto;
  let modbus: ServerTCP;
  let observer: mqtt.MqttClient;
  let run: Run;
  const holding = new Map<number, number>([[0, 230]]);
  const input = new Map<number, number>([[0, 215]]);
  let latest: RoomStateMessage | undefined;
  let status = '';

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    const modbusPort = await freePort();
    modbus = new ServerTCP(
      {
        getInputRegister: (addr: number) => input.get(addr) ?? 0,
        getHoldingRegister: (addr: number) => holding.get(addr) ?? 0,
        getCoil: () => false,
        getDiscreteInput: () => false,
        setRegister: (addr: number, value: number) => void holding.set(addr, value),
        setCoil: () => {},
      },
      { host: '127.0.0.1', port: modbusPort, unitID: 1 },
    );
    await new Promise<void>((r) => modbus.on('initialized', () => r()));
    observer = await mqtt.connectAsync(mosquitto.url, { reconnectPeriod: 200 });
    observer.on('message', (topic, payload) => {
      if (topic === 'roomctl/t/status') status = payload.toString();
      if (topic === 'roomctl/t/rooms/R1/state') latest = JSON.parse(payload.toString());
    });
    observer.on('connect', () => observer.subscribe(['roomctl/t/status', 'roomctl/t/rooms/R1/state'], { qos: 1 }));
    await observer.subscribeAsync(['roomctl/t/status', 'roomctl/t/rooms/R1/state'], { qos: 1 });
    const config = configFile(`
site: { id: t, name: Test, timezone: Asia/Shanghai }
mqtt: { url: "${mosquitto.url}", reconnect: { min_ms: 100, max_ms: 1000 } }
rooms:
  - id: R1
    name: Room 1
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { host: 127.0.0.1, port: ${modbusPort}, unit: 1, poll_ms: 200 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: t/R1/lights } }
`);
    run = startRoomctl(config);
  });

  afterAll(async () => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await observer?.endAsync(true);
    await new Promise<void>((r) => modbus.close(() => r()));
    await mosquitto?.dispose();
  });

  it('shows Modbus and MQTT points updating on the retained room state topic, and announces itself online', async () => {
    await waitFor(() => status === 'online', 30_000, 'roomctl online on roomctl/t/status');
    // The unit's input and holding registers are two reads: the coalesced state topic may carry one before the other.
    await waitFor(() => latest?.points['hvac.temperature']?.quality === 'good' && latest?.points['hvac.setpoint']?.quality === 'good', 30_000, 'hvac.temperature and hvac.setpoint good');
    expect(latest!.points['hvac.temperature']!.value).toBe(21.5);
    expect(latest!.points['hvac.setpoint']!.value).toBe(23);
    input.set(0, 224);
    await waitFor(() => latest?.points['hvac.temperature']?.value === 22.4, 30_000, 'the new temperature');
    await observer.publishAsync('t/R1/lights/main/state', JSON.stringify({ on: true, level: 60 }));
    await waitFor(() => latest?.points['lights.main.level']?.value === 60, 30_000, 'lights level 60');
  });

  it('recovers by itself when Mosquitto is killed and restarted during the run', async () => {
    await mosquitto.stop('SIGKILL');
    await mosquitto.restart();
    // The observer reconnects too; roomctl must resubscribe and apply new readings.
    await waitFor(() => observer.connected, 30_000, 'observer reconnected');
    await observer.subscribeAsync(['roomctl/t/status', 'roomctl/t/rooms/R1/state'], { qos: 1 });
    await waitFor(async () => {
      await observer.publishAsync('t/R1/lights/main/state', JSON.stringify({ on: true, level: 35 }));
      return latest?.points['lights.main.level']?.value === 35;
    }, 60_000, 'lights level 35 after the broker restart');
    await waitFor(() => status === 'online', 30_000, 'online again');
    expect(run.output()).not.toMatch(/uncaught|unhandled/i);
  });

  it('stops cleanly on SIGTERM: status offline, clients closed, exit code 0', async () => {
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect(run.output()).toMatch(/stopped cleanly/);
    await waitFor(() => status === 'offline', 10_000, 'retained offline status');
  });
});

describe('roomctl start with the embedded broker', () => {
  let blocker: Server;
  afterAll(() => new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r())));

  it('explains how to change the port when it is already taken, and exits 1', async () => {
    const port = await freePort();
    blocker = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const run = startRoomctl(configFile(`
site: { id: t, name: Test, timezone: Asia/Shanghai }
mqtt: { broker: { port: ${port} } }
rooms:
  - { id: R1, name: Room 1, capacity: 8, devices: [ { name: door, profile: door-mqtt, mqtt: { base: t/door } } ] }
`));
    expect(await run.exit).toBe(1);
    expect(run.output()).toMatch(new RegExp(`port ${port} is already in use.*mqtt\\.broker\\.port`, 's'));
  });

  it('starts its own broker, serves devices on it, and exits 0 on SIGINT', async () => {
    const port = await freePort();
    const run = startRoomctl(configFile(`
site: { id: t, name: Test, timezone: Asia/Shanghai }
mqtt: { broker: { port: ${port}, users: [ { username: door-r1, password: door-pw, devices: [R1/door], integrations: true } ] } }
rooms:
  - { id: R1, name: Room 1, capacity: 8, devices: [ { name: door, profile: door-mqtt, mqtt: { base: t/door } } ] }
`));
    const device = await waitFor(() => mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, username: 'door-r1', password: 'door-pw' }).catch(() => undefined), 30_000, 'embedded broker up');
    let state: RoomStateMessage | undefined;
    device.on('message', (_t, p) => (state = JSON.parse(p.toString())));
    await device.subscribeAsync('roomctl/t/rooms/R1/state');
    await waitFor(async () => {
      await device.publishAsync('t/door/state', JSON.stringify({ contact: 'closed', locked: false }));
      return state?.points['door.contact']?.value === 'closed';
    }, 30_000, 'door contact applied');
    await device.endAsync(true);
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
  });
});
