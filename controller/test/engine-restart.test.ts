import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../src/adapters/broker.ts';
import { Schedule } from '../src/engine/timeline/schedule.ts';
import { silentLogger } from '../src/log.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { SimulatedBuilding } from '../../devices/sim/building.ts';
import { localToEpoch } from '../../devices/sim/local-time.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Kill -9 mid-preparation. The controller is a real child process (`roomctl start`'s
 * startCommand on a virtual clock running 30× real time, test/fixtures/virtual-controller.ts);
 * the simulated building runs in this process on the same time line and keeps running
 * while the controller is dead, as a real building would. Everything is observed from
 * outside: the schedule file on disk, the commands the devices receive and what the
 * controller publishes on MQTT.
 */
const root = resolve(import.meta.dirname, '../..');
/** Fast, yet a read-back still has a second of real time (30 s virtual) on a loaded machine. */
const SPEED = 30;
const TZ = 'Asia/Shanghai';
const V0 = localToEpoch('2025-07-16', '09:00', TZ);
const at = (hhmm: string) => localToEpoch('2025-07-16', hhmm, TZ);

const yaml = (brokerUrl: string) => `
site: { id: rs, name: Restart, timezone: ${TZ} }
mqtt: { url: "${brokerUrl}", reconnect: { min_ms: 100, max_ms: 1000 } }
api: { enabled: false }
rooms:
  - id: R1
    name: Prepared twice
    capacity: 8
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: rs/R1/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: rs/R1/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: rs/R1/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: rs/R1/occupancy } }
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 } ] }
  - id: R2
    name: Prepared after the restart
    capacity: 8
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: rs/R2/lights } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: rs/R2/occupancy } }
simulation:
  day: 2025-07-16
  start: "09:00"
  meetings:
    - { id: M, room: R1, start: "09:35", end: "10:05", attendees: 5 }
    - { id: N, room: R2, start: "09:40", end: "10:00", attendees: 3 }
`;

interface Child {
  proc: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

let broker: EmbeddedBroker;
let clock: VirtualClock;
let sim: SimulatedBuilding;
let watcher: MqttClient;
let dir: string;
let config: string;
const messages: { topic: string; payload: string; ts: number }[] = [];
const children: Child[] = [];
let killedAt = 0;

function startController(): Child {
  const proc = spawn(process.execPath, [join(root, 'bin/run-ts.js'), join(root, 'controller/test/fixtures/virtual-controller.ts'), config, String(V0), String(r0), String(SPEED)], {
    cwd: dir,
    env: { ...process.env, ROOMCTL_LOG_JSON: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const child = { proc, output: () => out, exit: new Promise<number | null>((r) => proc.once('exit', (code) => r(code))) };
  children.push(child);
  return child;
}

const stored = () => {
  const file = JSON.parse(readFileSync(join(dir, '.roomctl', 'meetings.json'), 'utf8')) as { meetings: { id: string; status: string; stepsDone: string[] }[] };
  return new Map(file.meetings.map((m) => [m.id, m]));
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (topic: string): (Record<string, any> & { _at: number })[] => messages.filter((m) => m.topic === topic).map((m) => ({ ...(JSON.parse(m.payload) as Record<string, unknown>), _at: m.ts }));
let r0 = 0;

beforeAll(async () => {
  broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: silentLogger });
  dir = mkdtempSync(join(tmpdir(), 'roomctl-restart-'));
  config = join(dir, 'site.yaml');
  writeFileSync(config, yaml(broker.url));
  const site = siteFromYaml(yaml(broker.url));
  r0 = Date.now();
  clock = VirtualClock.running(V0, SPEED);
  sim = new SimulatedBuilding({ site, clock, brokerUrl: broker.url });
  await sim.start();
  sim.injectFault('R1', 'dead_mic:2');
  watcher = await mqtt.connectAsync(broker.url, { clientId: 'restart-watcher' });
  watcher.on('message', (topic, payload) => messages.push({ topic, payload: payload.toString(), ts: clock.now() }));
  await watcher.subscribeAsync(['roomctl/rs/alerts', 'roomctl/rs/rooms/+/readiness', 'roomctl/rs/rooms/+/scene', 'rs/+/lights/+/set', 'rs/+/dsp/mic/+/set'], { qos: 1 });
  // The bookings, as the booking system left them before the controller first started.
  const schedule = new Schedule({ clock, rooms: ['R1', 'R2'], file: join(dir, '.roomctl', 'meetings.json') });
  schedule.load();
  schedule.upsert({ id: 'M', room: 'R1', start: at('09:35'), end: at('10:05'), attendees: 5 });
  schedule.upsert({ id: 'N', room: 'R2', start: at('09:40'), end: at('10:00'), attendees: 3 });
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exit));
  await watcher?.endAsync();
  await sim?.stop();
  await broker?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a controller killed mid-preparation and restarted', () => {
  it('loses no meeting, resumes the preparation where it stopped, and raises no alert twice', { timeout: 240_000 }, async () => {
    const first = startController();
    // P2 at T-30 (09:05): AV on and the mic test; the dead mic fails it and raises the alert.
    await waitFor(() => stored().get('M')?.stepsDone.includes('av_on'), 120_000, `AV step of M recorded as done\n${first.output()}`, 100);
    expect(stored().get('M')!.stepsDone).not.toContain('ready');
    await waitFor(() => json('roomctl/rs/alerts').some((a) => a.check === 'mic_test' && a.state === 'raised'), 20_000, 'the mic alert');
    first.proc.kill('SIGKILL');
    expect(await first.exit).toBeNull(); // killed, not exited
    killedAt = clock.now();

    const second = startController();
    await waitFor(() => json('roomctl/rs/rooms/R1/readiness').some((r) => (r.verdict as { meetingId?: string } | null)?.meetingId === 'M'), 150_000, `the verdict of M\n${second.output()}`, 100);
    await waitFor(() => json('roomctl/rs/rooms/R2/readiness').some((r) => (r.verdict as { meetingId?: string } | null)?.meetingId === 'N'), 60_000, `the verdict of N\n${second.output()}`, 100);
    second.proc.kill('SIGTERM');
    expect(await second.exit).toBe(0);

    // No meeting lost: both bookings are still there, and both were carried through.
    const after = stored();
    expect([...after.keys()].sort()).toEqual(['M', 'N']);
    expect(after.get('M')!.stepsDone).toEqual(expect.arrayContaining(['av_on', 'ready', 'final_sound', 'session_start']));
    expect(after.get('N')!.stepsDone).toEqual(expect.arrayContaining(['av_on', 'ready', 'session_start']));

    // Resumed, not restarted: the mic test was sent by the first run only (retries included); the
    // readiness step and its scene came from the second run.
    const micTest = json('rs/R1/dsp/mic/1/set').filter((m) => m.test === true);
    expect(micTest.length).toBeGreaterThanOrEqual(1);
    expect(micTest.filter((m) => m._at > killedAt)).toEqual([]);
    const scene = json('roomctl/rs/rooms/R1/scene').find((s) => s.meetingId === 'M')!;
    expect(scene).toMatchObject({ scene: 'meeting', ok: true });
    expect(scene._at).toBeGreaterThan(killedAt);
    // N's preparation fell after the kill: the second run did it (its lights went on).
    const nLights = json('rs/R2/lights/main/set').filter((m) => m.on === true);
    expect(nLights.length).toBeGreaterThanOrEqual(1);
    expect(nLights.every((m) => m._at > killedAt)).toBe(true);

    // No duplicate alert: raised once by the first run; the second run found it still active.
    const raised = json('roomctl/rs/alerts').filter((a) => a.state === 'raised');
    expect(raised.map((a) => a.id), JSON.stringify(raised)).toEqual(['R1/mic_test']);
    expect(raised[0]!._at).toBeLessThan(killedAt);

    // The verdict: not ready (the dead mic), booked on time (a restart is not P13 lateness).
    const verdict = json('roomctl/rs/rooms/R1/readiness').map((r) => r.verdict as Record<string, unknown> | null).find((v) => v?.meetingId === 'M')!;
    expect(verdict).toMatchObject({ readyAtReadyCheck: false, readyAtStart: false, minutesLate: 0, noShow: false });
    expect(verdict.failingChecks).toEqual(['mic_test']);
  });
});
