import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../src/model/bus.ts';
import { systemClock } from '../src/model/clock.ts';
import type { AlertEvent, MeetingVerdict } from '../src/model/events.ts';
import { Recorder } from '../src/recorder/recorder.ts';
import { startInfluxd, type Influxd } from './helpers/influxd.ts';
import { DAY_SITE_YAML } from './helpers/recorded-day.ts';
import { capturingLogger, countRows, influxConfig, reader, spoolLines, tempDir, uniqueDatabase } from './helpers/recorder-env.ts';
import { siteFromYaml } from './helpers/site.ts';
import { freePort, waitFor } from './helpers/wait.ts';

const site = siteFromYaml(DAY_SITE_YAML);
const previous = { value: null, quality: 'offline' as const };
let influxd: Influxd;

beforeAll(async () => {
  influxd = await startInfluxd();
});
afterAll(async () => {
  await influxd?.cleanup();
});

function emitStates(bus: EventBus, from: number, to: number, base: number): void {
  for (let i = from; i < to; i++) bus.emit('point', { room: '3F-301', point: 'display.input', device: 'display', value: `v${i}`, ts: base + i, quality: 'good', previous });
}

function emitTemperatures(bus: EventBus, from: number, to: number, base: number): void {
  for (let i = from; i < to; i++) bus.emit('point', { room: '3F-301', point: 'hvac.temperature', device: 'hvac', value: i, ts: base + i, quality: 'good', previous });
}

const verdict = (start: number, noShow: boolean): MeetingVerdict => ({
  room: '3F-301', meetingId: 'm-1', level: 'normal', start, end: start + 3600_000, readyAtReadyCheck: true, readyAtStart: true,
  minutesReadyBeforeStart: 15, minutesLate: 0, minutesInBandBeforeStart: 20, hvacMinutes: 90, failingChecks: [], noShow, ts: Date.now(),
});

describe('the recorder spool', () => {
  it('loses no point while influxd is stopped for a stretch, and replays the spool in order once it is back', async () => {
    const database = uniqueDatabase('outage');
    const spool = tempDir();
    const bus = new EventBus();
    const recorder = new Recorder({ influx: influxConfig({ url: influxd.url, database, flush_interval_ms: 100, timeout_ms: 3000 }), site, bus, clock: systemClock, logger: capturingLogger().logger, spoolDir: spool.dir });
    const base = Date.now();
    const db = reader(influxd.url, database);
    await recorder.start();
    try {
      emitTemperatures(bus, 0, 2000, base);
      const changes = () => countRows(db, '"raw"."telemetry"', 'value', '"sample" = false');
      // written, not just stored: influxd may store a batch yet answer 500, and then the
      // recorder spools and resends it (an overwrite, not a duplicate).
      await waitFor(() => recorder.stats().written >= 2000 && recorder.stats().mode === 'live', 30_000, 'the first 2000 points written');
      expect(await changes()).toBe(2000);

      await influxd.stop();
      for (let i = 2000; i < 5000; i += 500) {
        emitTemperatures(bus, i, i + 500, base);
        await new Promise((r) => setTimeout(r, 50));
      }
      bus.emit('verdict', verdict(base, false));
      const outage = () => spoolLines(spool.dir).filter((l) => l.includes('sample=false')).length;
      await waitFor(() => recorder.stats().mode === 'spooling' && recorder.stats().queued === 0 && outage() === 3000, 30_000, 'the points emitted during the outage to be spooled');
      expect(recorder.stats().spooled).toBe(spoolLines(spool.dir).length);

      await influxd.start();
      // Emitted while the spool is replayed: they queue behind it, so this later verdict wins.
      emitTemperatures(bus, 5000, 6000, base);
      bus.emit('verdict', verdict(base, true));
      await waitFor(async () => recorder.stats().mode === 'live' && (await changes()) === 6000, 60_000, 'the spool replayed and every point written');
      await recorder.flush();

      const rows = await db.query(`SELECT "value" FROM "raw"."telemetry" WHERE "sample" = false`);
      expect(rows.map((r) => r.value)).toEqual(Array.from({ length: 6000 }, (_, i) => i));
      const meeting = await db.query(`SELECT "no_show" FROM "long"."meeting"`);
      expect(meeting.map((m) => m.no_show)).toEqual([1]);
      expect(spoolLines(spool.dir)).toEqual([]);
      expect(recorder.stats()).toMatchObject({ dropped: 0, rejected: 0, spooled: 0, spoolBytes: 0 });
    } finally {
      if (!influxd.running()) await influxd.start();
      await recorder.stop();
      db.close();
      spool.remove();
    }
  });

  it('delivers everything a controller killed with SIGKILL left in its spool when the next run starts with influxd up', async () => {
    const database = uniqueDatabase('killed');
    const spool = tempDir();
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    const child = spawn(process.execPath, ['bin/run-ts.js', 'controller/test/fixtures/spool-writer.ts', spool.dir, deadUrl, '20000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    const db = reader(influxd.url, database);
    try {
      const line = await waitFor(() => out.split('\n').find((l) => l.startsWith('{')), 60_000, `the child to report its spool (stderr: ${err})`);
      expect(JSON.parse(line)).toMatchObject({ spooled: 22000, dropped: 0, mode: 'spooling' });
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(spoolLines(spool.dir)).toHaveLength(22000);

      const recorder = new Recorder({ influx: influxConfig({ url: influxd.url, database }), site, bus: new EventBus(), clock: systemClock, logger: capturingLogger().logger, spoolDir: spool.dir });
      await recorder.start();
      try {
        await waitFor(() => recorder.stats().written === 22000 && recorder.stats().mode === 'live', 60_000, 'the spool of the killed run replayed');
        expect(await countRows(db, '"raw"."telemetry"', 'value')).toBe(20000);
        expect(await countRows(db, '"long"."readiness"', 'passed')).toBe(2000);
        const rows = await db.query(`SELECT "value" FROM "raw"."telemetry"`);
        expect(rows.map((r) => r.value)).toEqual(Array.from({ length: 20000 }, (_, i) => i));
        expect(spoolLines(spool.dir)).toEqual([]);
      } finally {
        await recorder.stop();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      db.close();
      spool.remove();
    }
  });

  it('replays a spool of 1 KB lines followed by 100-byte ones completely and in order, though each read is sized for lines of the average length', async () => {
    const spool = tempDir();
    const bus = new EventBus();
    const offline = new Recorder({ influx: influxConfig({}), site, bus, clock: systemClock, logger: capturingLogger().logger, spoolDir: spool.dir });
    await offline.start();
    const base = Date.now() - 600_000;
    const long = (i: number) => `${'x'.repeat(1000)}${i}`;
    for (let i = 0; i < 9000; i++) bus.emit('point', { room: '3F-301', point: 'display.input', device: 'display', value: i < 3000 ? long(i) : `v${i}`, ts: base + i, quality: 'good', previous });
    await offline.stop();
    const spooled = spoolLines(spool.dir).filter((l) => l.startsWith('raw telemetry,'));
    expect(spooled).toHaveLength(9000);
    // One batch's worth at the average length reaches about 2,500 of the long lines: the
    // first reads come back with fewer lines than a batch, and nothing may be skipped.
    const total = spooled.reduce((n, l) => n + l.length + 1, 0);
    expect((total / 9000) * 5000 * 1.25).toBeLessThan(3000 * 1000);

    const database = uniqueDatabase('uneven');
    const replay = new Recorder({ influx: influxConfig({ url: influxd.url, database }), site, bus: new EventBus(), clock: systemClock, logger: capturingLogger().logger, spoolDir: spool.dir });
    const db = reader(influxd.url, database);
    await replay.start();
    try {
      await waitFor(() => replay.stats().mode === 'live' && replay.stats().spooled === 0, 60_000, 'the spool replayed');
      const rows = await db.query(`SELECT "state" FROM "raw"."telemetry"`);
      expect(rows.map((r) => r.state)).toEqual(Array.from({ length: 9000 }, (_, i) => (i < 3000 ? long(i) : `v${i}`)));
      expect(spoolLines(spool.dir)).toEqual([]);
      expect(replay.stats()).toMatchObject({ dropped: 0, rejected: 0 });
    } finally {
      await replay.stop();
      db.close();
      spool.remove();
    }
  });

  it('keeps everything in a bounded spool without influx.url, says so once, alerts near the bound and counts exactly what it drops', async () => {
    const spool = tempDir();
    const bus = new EventBus();
    const alerts: AlertEvent[] = [];
    bus.on('alert', (a) => alerts.push(a));
    const log = capturingLogger();
    const bound = 0.05; // MB: roughly 350 telemetry lines
    const recorder = new Recorder({ influx: influxConfig({ spool_max_mb: bound }), site, bus, clock: systemClock, logger: log.logger, spoolDir: spool.dir });
    await recorder.start();
    const base = Date.now() - 600_000;
    for (let i = 0; i < 2000; i += 100) {
      emitStates(bus, i, i + 100, base); // text: no 5-minute means, so the rows are exactly these
      await recorder.flush();
    }
    await recorder.stop();

    const s = recorder.stats();
    const lines = spoolLines(spool.dir);
    expect(s.mode).toBe('spool-only');
    expect(s.spooled).toBe(lines.length);
    expect(s.spoolBytes).toBeLessThanOrEqual(bound * 1024 * 1024);
    // Every row the recorder made — the 2000 points and its own alerts — is either spooled or counted as dropped.
    expect(s.spooled + s.dropped).toBe(2000 + alerts.length);
    expect(s.dropped).toBeGreaterThan(1000);
    // What was kept is the oldest, in order, without gaps.
    const kept = lines.filter((l) => l.startsWith('raw telemetry,')).map((l) => Number(/,state="v(\d+)"/.exec(l)![1]));
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => i));
    expect(alerts.map((a) => [a.check, a.state, a.severity])).toEqual([
      ['recorder_spool', 'raised', 'warning'],
      ['recorder_spool_full', 'raised', 'critical'],
    ]);
    const messages = log.lines().map((l) => l.msg);
    expect(messages.filter((m) => String(m).includes('no influx.url'))).toHaveLength(1);
    expect(messages).toContain('recorder: spool nearly full');
    expect(messages).toContain('recorder: spool full; points dropped (counted exactly in stats().dropped)');

    // Configured later: the next run finds the spool nearly full (and says so), replays it
    // into InfluxDB, then clears its alerts.
    const database = uniqueDatabase('bounded');
    const later = new Recorder({ influx: influxConfig({ url: influxd.url, database, spool_max_mb: bound }), site, bus, clock: systemClock, logger: capturingLogger().logger, spoolDir: spool.dir });
    const db = reader(influxd.url, database);
    await later.start();
    try {
      await waitFor(() => later.stats().mode === 'live' && later.stats().queued === 0, 60_000, 'the spool replayed');
      expect(await countRows(db, '"raw"."telemetry"', 'state')).toBe(kept.length);
      // Its own "nearly full" alert, raised at start, found the spool brim-full: counted as dropped.
      expect(later.stats()).toMatchObject({ spooled: 0, spoolBytes: 0, dropped: 1, rejected: 0 });
      expect(later.stats().written).toBeGreaterThanOrEqual(lines.length);
      expect(alerts.slice(2).map((a) => [a.check, a.state])).toEqual([
        ['recorder_spool', 'raised'],
        ['recorder_spool_full', 'raised'],
        ['recorder_spool_full', 'cleared'],
        ['recorder_spool', 'cleared'],
      ]);
    } finally {
      await later.stop();
      db.close();
      spool.remove();
    }
  });
});
