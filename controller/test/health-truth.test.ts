import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/api/app.ts';
import { loadConfigFile } from '../src/config/load.ts';
import { RoomctlService } from '../src/service.ts';
import { startInfluxd, type Influxd } from './helpers/influxd.ts';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.ts';
import { capturingLogger, countRows, reader, uniqueDatabase } from './helpers/recorder-env.ts';
import { siteFromYaml } from './helpers/site.ts';
import { freePort, waitFor } from './helpers/wait.ts';

/**
 * Issue 13, part 5: "health that tells the truth". /healthz and /metrics say degraded,
 * with each reason named, when InfluxDB refuses points, when a device is offline, and
 * (down, 503, as before) when the MQTT link is; the recorder counts what InfluxDB
 * refused exactly and says so once per cause; the demo plays today's date, so what it
 * records is kept and `roomctl report` finds its meetings. Real peers throughout:
 * influxd 1.6, Mosquitto, the embedded broker, the demo process itself.
 */
const root = resolve(import.meta.dirname, '../..');
const roomctl = join(root, 'bin/roomctl.js');

const siteYaml = (extra: string) => `
site: { id: health, name: Health Test Building, timezone: Asia/Shanghai, language: en }
rooms:
  - id: A-101
    name: Room A
    capacity: 10
    devices:
      - { name: display, profile: display-mqtt, mqtt: { base: health/A-101/display } }
${extra}`;

interface Rig {
  service: RoomctlService;
  app: FastifyInstance;
  log: ReturnType<typeof capturingLogger>;
  engineer: string;
  health(): Promise<{ code: number; body: Record<string, any> }>;
  metrics(): Promise<string>;
  close(): Promise<void>;
}

async function rig(extraYaml: string, embeddedBroker: boolean): Promise<Rig> {
  const dataDir = mkdtempSync(join(tmpdir(), 'roomctl-health-'));
  let site = siteFromYaml(siteYaml(extraYaml));
  if (embeddedBroker) site = { ...site, config: { ...site.config, mqtt: { ...site.config.mqtt, broker: { ...site.config.mqtt.broker, host: '127.0.0.1', port: 0 } } } };
  const log = capturingLogger();
  const service = new RoomctlService({ site, logger: log.logger, dataDir, api: { enabled: false } });
  await service.start();
  const app = await buildApp(service, { logger: log.logger });
  const engineer = app.roomctl.tokens.create({ role: 'engineer', label: 'health test' }).token;
  return {
    service,
    app,
    log,
    engineer,
    async health() {
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      return { code: res.statusCode, body: res.json() };
    },
    async metrics() {
      const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${engineer}` } });
      expect(res.statusCode).toBe(200);
      return res.body;
    },
    async close() {
      await app.close();
      await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let influxd: Influxd;
beforeAll(async () => {
  influxd = await startInfluxd();
});
afterAll(async () => {
  await influxd?.cleanup();
});

describe('points InfluxDB refuses (a real influxd, retention policies of 1 day)', () => {
  it('counts exactly the points older than the retention policy, logs the cause once with what to do, and /healthz and /metrics say degraded: influx_refusing_points', async () => {
    const database = uniqueDatabase('refused');
    const r = await rig(`influx: { database: ${database}, url: "${influxd.url}", batch_size: 100, retention: { raw_days: 1, long_days: 1 } }\n`, true);
    const db = reader(influxd.url, database);
    try {
      expect((await r.health()).body).toMatchObject({ status: 'ok', reasons: [], influx: { configured: true, mode: 'live', refused: 0 } });
      // Nothing of the service's own queued: the batches below are exactly the test's.
      await r.service.recorder.flush();

      // A clock three days behind (or a simulated day long past): 250 readiness rows InfluxDB must refuse, in three batches.
      const now = Date.now();
      const old = now - 3 * 86_400_000;
      for (let i = 0; i < 250; i++) r.service.bus.emit('check', { room: 'A-101', check: 'old_clock', status: 'pass', step: 'ready', ts: old + i });
      for (let i = 0; i < 40; i++) r.service.bus.emit('check', { room: 'A-101', check: 'fresh_clock', status: 'pass', step: 'ready', ts: now + i });
      await r.service.recorder.flush();
      // And later, more of the same cause: counted, not logged again.
      for (let i = 0; i < 100; i++) r.service.bus.emit('check', { room: 'A-101', check: 'old_clock', status: 'fail', step: 'ready', ts: old + 1000 + i });
      await r.service.recorder.flush();

      const stats = r.service.recorder.stats();
      expect(stats.rejected).toBe(350);
      expect(stats.refusals).toEqual([{ cause: 'retention', rp: 'long', points: 350, explanation: expect.any(String), lastAt: expect.any(Number) }]);
      expect(stats.dropped).toBe(0);
      expect(await countRows(db, '"long"."readiness"', 'passed', `"check" = 'old_clock'`)).toBe(0);
      expect(await countRows(db, '"long"."readiness"', 'passed', `"check" = 'fresh_clock'`)).toBe(40);

      const refusedLines = r.log.lines().filter((l) => String(l.msg).startsWith('recorder: InfluxDB refused'));
      expect(refusedLines).toHaveLength(1);
      const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(old);
      // The first batch held only refused points: the log must not say the rest was written.
      expect(refusedLines[0]).toMatchObject({ level: 40, msg: 'recorder: InfluxDB refused 100 points — every point of its batch', cause: 'retention', rp: 'long', points: 100 });
      expect(String(refusedLines[0]!.why)).toBe(
        `points older than the retention policy "long" (1 d); the oldest is from ${day} (Asia/Shanghai), 3 days ago. InfluxDB keeps nothing older, so they are lost: a clock set in the past, or a simulated day long gone (roomctl start --simulate --day, sim run --day) — play a recent day (the demo plays today by default), fix the clock, or raise influx.retention.long_days`,
      );
      expect(String(refusedLines[0]!.reason)).toBe('partial write: points beyond retention policy dropped=100');

      const { code, body } = await r.health();
      expect(code).toBe(200);
      expect(body.status).toBe('degraded');
      expect(body.reasons).toEqual(['influx_refusing_points']);
      expect(body.influx).toMatchObject({ configured: true, mode: 'live', refused: 350, dropped: 0, spooled: 0, refusals: [{ cause: 'retention', rp: 'long', points: 350, explanation: refusedLines[0]!.why }] });

      const text = await r.metrics();
      for (const line of [
        'roomctl_health_degraded{reason="influx_refusing_points"} 1',
        'roomctl_health_degraded{reason="mqtt_disconnected"} 0',
        'roomctl_health_status{status="degraded"} 1',
        'roomctl_health_status{status="ok"} 0',
        'roomctl_recorder_rejected_total 350',
        'roomctl_recorder_refused_points_total{cause="retention",rp="long"} 350',
      ])
        expect(text.split('\n'), line).toContain(line);
    } finally {
      db.close();
      await r.close();
    }
  });
});

describe('two causes in one batch (a real influxd names only one cause per request)', () => {
  it('counts old points and a field type conflict of the same batch apart and exactly, each cause logged once', async () => {
    const database = uniqueDatabase('conflict');
    const r = await rig(`influx: { database: ${database}, url: "${influxd.url}", batch_size: 1000, retention: { raw_days: 1, long_days: 1 } }\n`, true);
    const db = reader(influxd.url, database);
    try {
      await waitFor(async () => (await db.query('SHOW RETENTION POLICIES')).some((p) => p.name === 'long'), 30_000, 'the recorder creating its retention policies');
      // An earlier version wrote readiness.passed as text into the current shard: the recorder's numbers now conflict.
      const now = Date.now();
      expect(await db.writeLines('long', [`readiness,site=health,room=A-101,check=legacy,status=pass passed="yes" ${now - 1000}000000`])).toEqual({ ok: true, written: 1, rejected: [] });
      await r.service.recorder.flush();
      const old = now - 3 * 86_400_000;
      for (let i = 0; i < 20; i++) r.service.bus.emit('check', { room: 'A-101', check: 'old_clock', status: 'pass', step: 'ready', ts: old + i });
      for (let i = 0; i < 30; i++) r.service.bus.emit('check', { room: 'A-101', check: 'conflicting', status: 'pass', step: 'ready', ts: now + i });
      await r.service.recorder.flush();

      const stats = r.service.recorder.stats();
      expect(stats.rejected).toBe(50);
      // The batch's current lines go first, its old ones in a request of their own after them.
      expect(stats.refusals.map((c) => [c.cause, c.rp, c.points])).toEqual([
        ['type_conflict', 'long', 30],
        ['retention', 'long', 20],
      ]);
      const lines = r.log.lines().filter((l) => String(l.msg).startsWith('recorder: InfluxDB refused'));
      expect(lines.map((l) => [l.key, l.points, l.msg])).toEqual([
        ['type_conflict:readiness.passed', 30, 'recorder: InfluxDB refused 30 points — and 20 more for another cause: none of its batch was written'],
        ['retention:long', 20, 'recorder: InfluxDB refused 20 points — and 30 more for another cause: none of its batch was written'],
      ]);
      expect(String(lines[0]!.why)).toMatch(/^field "passed" of measurement "readiness" is string in InfluxDB and these points send it as float/);
      expect((await r.health()).body).toMatchObject({ status: 'degraded', reasons: ['influx_refusing_points'], influx: { refused: 50 } });
    } finally {
      db.close();
      await r.close();
    }
  });
});

describe('the MQTT link and the devices behind it (a real Mosquitto)', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });

  it('a device its availability topic reports offline makes /healthz degraded naming it (devices_offline), and ok again when it is back online', async () => {
    const r = await rig(`mqtt: { url: "${broker.url}" }\n`, false);
    const device = await mqtt.connectAsync(broker.url, { clientId: 'health-display' });
    try {
      await waitFor(() => r.service.mqtt.connected, 15_000, 'roomctl connected to Mosquitto');
      await device.publishAsync('health/A-101/display/availability', 'online', { retain: true });
      await waitFor(() => r.service.state.deviceHealth('A-101', 'display')?.online, 15_000, 'the display online');
      expect((await r.health()).body).toMatchObject({ status: 'ok', reasons: [], devices: { online: 1, total: 1, offline: [] } });

      await device.publishAsync('health/A-101/display/availability', 'offline', { retain: true });
      const { code, body } = await waitFor(async () => {
        const h = await r.health();
        return h.body.status === 'degraded' ? h : undefined;
      }, 15_000, '/healthz degraded');
      expect(code).toBe(200);
      expect(body.reasons).toEqual(['devices_offline']);
      expect(body.devices).toEqual({ online: 0, total: 1, offline: ['A-101/display'] });
      expect((await r.metrics()).split('\n')).toContain('roomctl_health_degraded{reason="devices_offline"} 1');

      await device.publishAsync('health/A-101/display/availability', 'online', { retain: true });
      await waitFor(async () => (await r.health()).body.status === 'ok', 15_000, '/healthz ok again');
      expect((await r.metrics()).split('\n')).toContain('roomctl_health_degraded{reason="devices_offline"} 0');
    } finally {
      await device.endAsync();
      await r.close();
    }
  });

  it('with the MQTT link down (Mosquitto stopped) /healthz says down (503, as it always has for an unreachable broker) with the reason mqtt_disconnected, and ok again once Mosquitto is back', async () => {
    const r = await rig(`mqtt: { url: "${broker.url}", reconnect: { min_ms: 100, max_ms: 500 } }\n`, false);
    try {
      await waitFor(() => r.service.mqtt.connected, 15_000, 'roomctl connected to Mosquitto');
      expect(await r.health()).toMatchObject({ code: 200, body: { status: 'ok', reasons: [] } });

      await broker.stop();
      const down = await waitFor(async () => {
        const h = await r.health();
        return h.body.status !== 'ok' ? h : undefined;
      }, 15_000, '/healthz to notice the broker is gone');
      expect(down.code).toBe(503);
      expect(down.body).toMatchObject({ status: 'down', reasons: ['mqtt_disconnected'], broker: { connected: false } });
      const text = (await r.metrics()).split('\n');
      expect(text).toContain('roomctl_health_degraded{reason="mqtt_disconnected"} 1');
      expect(text).toContain('roomctl_health_status{status="down"} 1');
      expect(text).toContain('roomctl_mqtt_connected 0');

      await broker.restart();
      const back = await waitFor(async () => {
        const h = await r.health();
        return h.body.status === 'ok' ? h : undefined;
      }, 30_000, '/healthz ok once Mosquitto is back');
      expect(back).toMatchObject({ code: 200, body: { reasons: [], broker: { connected: true } } });
      expect((await r.metrics()).split('\n')).toContain('roomctl_health_degraded{reason="mqtt_disconnected"} 0');
    } finally {
      await r.close();
    }
  });
});

/** The shipped demo config with every fixed port moved to a free one, recording to the test's influxd. */
async function demoConfig(database: string): Promise<string> {
  let text = readFileSync(join(root, 'config/demo.yaml'), 'utf8');
  for (const port of [5020, 5021, 5022, 5023]) text = text.replaceAll(`port: ${port} }`, `port: ${await freePort()} }`);
  text = text.replace(/control_port: \d+/, `control_port: ${await freePort()}`);
  expect(text).not.toMatch(/^(mqtt|influx):/m);
  text += `\nmqtt:\n  broker: { port: ${await freePort()} }\ninflux: { url: "${influxd.url}", database: ${database} }\n`;
  const file = join(mkdtempSync(join(tmpdir(), 'roomctl-health-demo-')), 'demo.yaml');
  writeFileSync(file, text);
  return file;
}

describe('the demo plays today (roomctl start --simulate, no --day)', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it("plays today's date in the site's time zone with the season of that date, InfluxDB keeps what it records, and `roomctl report` finds its meetings", { timeout: 240_000 }, async () => {
    const database = uniqueDatabase('demo');
    const file = await demoConfig(database);
    const site = loadConfigFile(file).site!;
    const tz = site.config.site.timezone;
    const today = () => new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(Date.now());
    const before = today();
    const state = mkdtempSync(join(tmpdir(), 'roomctl-health-demo-state-'));
    child = spawn(process.execPath, [roomctl, 'start', '--simulate', '--config', file, '--speed', '240', '--api-port', '0'], { cwd: root, env: { ...process.env, XDG_STATE_HOME: state }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exit = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const db = reader(influxd.url, database);
    try {
      const header = await waitFor(() => /^roomctl demo · .*$/m.exec(out)?.[0], 60_000, 'the table header');
      const after = today();
      const m = /· (\w{3}) (\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2}) \((\w+)\) ·/.exec(header);
      expect(m, header).not.toBeNull();
      const [, , day, hh] = m!;
      expect([before, after]).toContain(day);
      expect(hh).toBe('05'); // as a controller running overnight: 05:10, the 08:30 stand-up's whole pre-conditioning window (15 + 180 + 5 min) before it, on today's date
      const month = Number(day!.slice(5, 7));
      const seasons = site.config.site.seasons;
      expect(m![5]).toBe(seasons.summer.includes(month) ? 'summer' : seasons.winter.includes(month) ? 'winter' : 'transition');
      expect(m![1]).toBe(new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'short' }).format(Date.parse(`${day}T12:00:00Z`)));
      await waitFor(() => new RegExp(`demo: playing today, ${day}`).test(err), 30_000, 'the log line naming the day');

      // The 08:30 stand-up's verdict at its start, recorded in InfluxDB and kept (today is inside every retention policy).
      await waitFor(async () => (await countRows(db, '"long"."meeting"', 'n')) >= 1, 120_000, 'the first meeting verdict in InfluxDB');
      const api = /HTTP API on (http:\/\/[0-9.:]+)/.exec(err)?.[1];
      expect(api, err.slice(-2000)).toBeDefined();
      const health = (await (await fetch(`${api}/healthz`)).json()) as { reasons: string[]; influx: { refused: number; written: number } };
      expect(health.influx.refused).toBe(0);
      expect(health.reasons).not.toContain('influx_refusing_points');
      expect(health.influx.written).toBeGreaterThan(0);

      const report = spawnSync(process.execPath, [roomctl, 'report', '--config', file, '--json'], { cwd: root, encoding: 'utf8' });
      expect(report.status, report.stderr).toBe(0);
      const json = JSON.parse(report.stdout) as { period: { label: string }; meetings: { meetingId: string; room: string; localStart: string }[] };
      expect(json.period.label).toBe(day);
      expect(json.meetings).toContainEqual(expect.objectContaining({ meetingId: 'm-402-standup', room: '4F-402', localStart: '08:30' }));

      child.kill('SIGINT');
      expect(await exit).toBe(0);
    } finally {
      db.close();
      rmSync(state, { recursive: true, force: true });
    }
  });
});
