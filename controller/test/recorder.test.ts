import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../src/model/bus.ts';
import { systemClock } from '../src/model/clock.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import type { DeviceHealth } from '../src/model/points.ts';
import { Recorder } from '../src/recorder/recorder.ts';
import { startInfluxd, type Influxd } from './helpers/influxd.ts';
import { playDay, simulatedDay, DAY_SITE_YAML, type SimulatedDay } from './helpers/recorded-day.ts';
import { capturingLogger, countRows, influxConfig, reader, spoolLines, tempDir, uniqueDatabase } from './helpers/recorder-env.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

const site = siteFromYaml(DAY_SITE_YAML);
let influxd: Influxd;

beforeAll(async () => {
  influxd = await startInfluxd();
});
afterAll(async () => {
  await influxd?.cleanup();
});

function failOnListenerError(): EventBus {
  return new EventBus((event, err) => {
    throw new Error(`a bus listener for ${event} failed: ${(err as Error).message}`);
  });
}

/** Device rows the recorder must write: every online/errors change, else one per device per sample period. */
function expectedDeviceRows(day: SimulatedDay, sampleMs: number): number {
  const last = new Map<string, { online: boolean; errors: number; at: number }>();
  let rows = 0;
  for (const e of day.events) {
    if (e.name !== 'device') continue;
    const d = e.payload as DeviceHealth;
    const key = `${d.room}/${d.device}`;
    const prev = last.get(key);
    if (!prev || prev.online !== d.online || prev.errors !== d.errors || d.ts - prev.at >= sampleMs) {
      rows++;
      last.set(key, { online: d.online, errors: d.errors, at: d.ts });
    }
  }
  return rows;
}

describe('the recorder against a real influxd', () => {
  it('records a simulated working day completely: each measurement holds exactly what the controller emitted', async () => {
    const day = simulatedDay();
    const database = uniqueDatabase('day');
    const spool = tempDir();
    const clock = VirtualClock.stepped(day.start - 60_000);
    const bus = failOnListenerError();
    const recorder = new Recorder({ influx: influxConfig({ url: influxd.url, database, sample_every_s: 60 }), site, bus, clock, logger: capturingLogger().logger, spoolDir: spool.dir });
    await recorder.start();
    await playDay(day, bus, clock);
    await recorder.stop();
    const db = reader(influxd.url, database);
    try {
      const s = recorder.stats();
      expect(s.dropped + s.rejected + s.invalid + s.spooled + s.queued).toBe(0);
      expect(day.events.length).toBeGreaterThan(5000);
      expect(await countRows(db, '"raw"."telemetry"', 'quality', '"sample" = false')).toBe(day.count('point'));
      expect(await countRows(db, '"long"."readiness"', 'passed')).toBe(day.count('check'));
      expect(await countRows(db, '"long"."event"', 'n')).toBe(day.count('activity') + day.count('alert') + day.count('command'));
      expect(await countRows(db, '"long"."event"', 'n', `"kind" = 'alert'`)).toBe(day.count('alert'));
      expect(await countRows(db, '"long"."event"', 'n', `"kind" = 'command'`)).toBe(day.count('command'));
      expect(await countRows(db, '"raw"."device"', 'online')).toBe(expectedDeviceRows(day, 60_000));
      // One row per meeting: the no-show update replaced the verdict given at the start.
      expect(await countRows(db, '"long"."meeting"', 'n')).toBe(day.meetings.total);
      const noShows = await db.query('SELECT sum("no_show") FROM "long"."meeting"');
      expect(noShows[0]?.sum).toBe(day.meetings.noShows);
      expect(await countRows(db, '"long"."readiness"', 'passed', `"status" = 'fail'`)).toBe(Object.values(day.failures).reduce((a, b) => a + b, 0));
      expect(spoolLines(spool.dir)).toEqual([]);
    } finally {
      db.close();
      spool.remove();
    }
  });

  it('samples a flat point at least every sample_every_s so graphs still draw it, and keeps time-weighted 5-minute means', async () => {
    const day = simulatedDay();
    const database = uniqueDatabase('flat');
    const spool = tempDir();
    const clock = VirtualClock.stepped(day.start - 60_000);
    const bus = failOnListenerError();
    const recorder = new Recorder({ influx: influxConfig({ url: influxd.url, database, sample_every_s: 60 }), site, bus, clock, logger: capturingLogger().logger, spoolDir: spool.dir });
    await recorder.start();
    await playDay(day, bus, clock);
    await recorder.stop();
    const db = reader(influxd.url, database);
    try {
      // The setpoint never changes after 07:00: samples alone draw its line.
      const rows = await db.query(`SELECT "value", "sample" FROM "raw"."telemetry" WHERE "room" = '3F-301' AND "point" = 'hvac.setpoint'`);
      expect(rows.filter((r) => r.sample === false)).toHaveLength(1);
      const times = rows.map((r) => Date.parse(r.time!));
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(61_000);
      expect(times.at(-1)! - times[0]!).toBeGreaterThan(11 * 3600_000);
      // Energy figures from the 5-minute rollup: lights on 08:00–18:30 minus the occupied
      // stretches (3 min before each start to 1 min after each end).
      const minutes = async (room: string, point: string) => {
        const r = await db.query(`SELECT sum("minutes") FROM "long"."telemetry" WHERE "room" = '${room}' AND "device" = '_room' AND "point" = '${point}'`);
        return Number(r[0]?.sum ?? 0);
      };
      expect(await minutes('3F-301', 'lights_on')).toBeCloseTo(630, 6);
      expect(await minutes('3F-301', 'lights_on_vacant')).toBeCloseTo(630 - (64 + 64 + 94 + 64), 6);
      // 5F-501's last meeting was a no-show: nobody came, the room stayed vacant.
      expect(await minutes('5F-501', 'lights_on_vacant')).toBeCloseTo(630 - (64 + 64 + 94), 6);
      // HVAC from 45 minutes before each start to 5 minutes after each end — except that
      // the 14:00 meeting's close (15:35) switched off what the 16:00 one started at 15:15.
      expect(await minutes('3F-301', 'hvac_on')).toBeCloseTo(110 + 110 + 140, 6);
      // The means of a point that holds 23 all day are 23, window after window.
      const means = await db.query(`SELECT "mean", "covered_s" FROM "long"."telemetry" WHERE "room" = '3F-302' AND "point" = 'hvac.setpoint'`);
      expect(means.length).toBeGreaterThanOrEqual(12 * 12);
      expect(new Set(means.map((m) => m.mean))).toEqual(new Set([23]));
    } finally {
      db.close();
      spool.remove();
    }
  });

  it('rejects an event that cannot become a valid point alone, logs where and why, and writes the rest', async () => {
    const database = uniqueDatabase('bad');
    const spool = tempDir();
    const bus = failOnListenerError();
    const log = capturingLogger();
    const recorder = new Recorder({ influx: influxConfig({ url: influxd.url, database }), site, bus, clock: systemClock, logger: log.logger, spoolDir: spool.dir });
    await recorder.start();
    const now = Date.now();
    const previous = { value: null, quality: 'offline' as const };
    for (let i = 0; i < 100; i++) {
      const value = i === 50 ? Number.NaN : i;
      bus.emit('point', { room: '3F-301', point: 'hvac.temperature', device: 'hvac', value, ts: now + i, quality: 'good', previous });
    }
    bus.emit('point', { room: '3F-301', point: 'hvac.temperature', device: 'hvac', value: { nested: true } as never, ts: now + 200, quality: 'good', previous });
    bus.emit('point', { room: '3F-301\nx', point: 'hvac.temperature', device: 'hvac', value: 1, ts: now + 201, quality: 'good', previous });
    await recorder.flush();
    const db = reader(influxd.url, database);
    try {
      expect(recorder.stats()).toMatchObject({ invalid: 3, written: 99, rejected: 0 });
      expect(await countRows(db, '"raw"."telemetry"', 'value')).toBe(99);
      const warning = log.lines().find((l) => l.msg === 'recorder: skipped an event that cannot be recorded');
      expect(warning).toMatchObject({ event: 'point', room: '3F-301', reason: 'field value is NaN, not a finite number' });
    } finally {
      await recorder.stop();
      db.close();
      spool.remove();
    }
  });

  it('writes the rest of a batch when influxd refuses one point of it (outside its retention policy), and logs that point', async () => {
    const database = uniqueDatabase('refused');
    const spool = tempDir();
    const bus = failOnListenerError();
    const log = capturingLogger();
    const recorder = new Recorder({ influx: influxConfig({ url: influxd.url, database }), site, bus, clock: systemClock, logger: log.logger, spoolDir: spool.dir });
    await recorder.start();
    const now = Date.now();
    for (let i = 0; i < 50; i++) {
      // A device with a wrong clock: one outcome stamped two years ago.
      const ts = i === 20 ? now - 730 * 86_400_000 : now + i;
      bus.emit('check', { room: '3F-301', check: 'lights_on', status: 'pass', step: 'ready', ts });
    }
    await recorder.flush();
    const db = reader(influxd.url, database);
    try {
      expect(recorder.stats()).toMatchObject({ written: 49, rejected: 1, spooled: 0, dropped: 0 });
      expect(await countRows(db, '"long"."readiness"', 'passed')).toBe(49);
      const warning = log.lines().find((l) => l.msg === 'recorder: InfluxDB refused a point; the rest of its batch was written');
      expect(String(warning?.reason)).toMatch(/beyond retention policy dropped=1/);
    } finally {
      await recorder.stop();
      db.close();
      spool.remove();
    }
  });

  it('sends a batch with an unparsable line through the adapter: influxd writes the others and the adapter names the bad line', async () => {
    const database = uniqueDatabase('parse');
    const db = reader(influxd.url, database);
    try {
      await db.ensureSchema([{ name: 'raw', days: 30, isDefault: true }]);
      const ns = `${Date.now()}000000`;
      const lines = Array.from({ length: 10 }, (_, i) => `telemetry,room=r${i} value=${i} ${ns}`);
      lines[4] = `telemetry,room=r4 value= ${ns}`;
      const outcome = await db.writeLines('raw', lines);
      expect(outcome).toEqual({ ok: true, written: 9, rejected: [{ line: lines[4], reason: 'unable to parse: missing field value', count: 1 }] });
      expect(await countRows(db, '"raw"."telemetry"', 'value')).toBe(9);
    } finally {
      db.close();
    }
  });
});
