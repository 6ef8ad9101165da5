import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../src/model/bus.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { Recorder } from '../src/recorder/recorder.ts';
import { WINDOW_MS } from '../src/recorder/rollup.ts';
import { startInfluxd, type Influxd } from './helpers/influxd.ts';
import { capturingLogger, countRows, influxConfig, reader, tempDir, uniqueDatabase } from './helpers/recorder-env.ts';

/**
 * A flush tick's work grows with the building (a sample for every flat point, the
 * 5-minute mean of every point), so the recorder does it in slices and lets other
 * events in between (recorder/slices.ts). These tests make a tick too big for one
 * slice — 3,000 points — and check that the rows are exactly those of a tick done in
 * one go, also for points that change while their tick is still being sliced.
 */
const ROOMS = 30;
const POINTS_PER_ROOM = 100;
const TOTAL = ROOMS * POINTS_PER_ROOM;
const site = { config: { site: { id: 'slices' } }, rooms: [] };
const previous = { value: null, quality: 'offline' as const };
let influxd: Influxd;

beforeAll(async () => {
  influxd = await startInfluxd();
});
afterAll(async () => {
  await influxd?.cleanup();
});

const room = (i: number) => `R-${String(Math.floor(i / POINTS_PER_ROOM)).padStart(2, '0')}`;
const point = (i: number) => `sensor.${i % POINTS_PER_ROOM}`;

function emitAll(bus: EventBus, ts: number, value: (i: number) => number, from = 0, to = TOTAL): void {
  for (let i = from; i < to; i++) bus.emit('point', { room: room(i), point: point(i), device: 'sensor', value: value(i), ts, quality: 'good', previous });
}

async function started(database: string, start: number) {
  const spool = tempDir();
  const clock = VirtualClock.stepped(start);
  const bus = new EventBus((event, err) => {
    throw new Error(`a bus listener for ${event} failed: ${(err as Error).message}`);
  });
  const recorder = new Recorder({ influx: influxConfig({ url: influxd.url, database, sample_every_s: 60, flush_interval_ms: 1000 }), site, bus, clock, logger: capturingLogger().logger, spoolDir: spool.dir });
  await recorder.start();
  return { spool, clock, bus, recorder };
}

describe('the recorder tick in slices', () => {
  it('samples 3,000 flat points in slices with other events handled in between, still once each at the tick, a point that changes meanwhile before its change', async () => {
    const database = uniqueDatabase('slices_samples');
    // A minute into a 5-minute window, so no window closes while this test plays.
    const base = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS - WINDOW_MS + 60_000;
    const { spool, clock, bus, recorder } = await started(database, base);
    const db = reader(influxd.url, database);
    try {
      emitAll(bus, base, (i) => i);
      await recorder.flush();
      expect(recorder.stats().written).toBe(TOTAL);

      // A stepped clock fires its timers synchronously, and advance() returns before the
      // event loop had a turn: 3,000 samples are more than one slice, so the tick at
      // +60 s cannot have reached the last points yet (they are the last it looks at).
      const advanced = clock.advance(60_000);
      const sampleAt = base + 60_000;
      expect(recorder.stats().queued).toBeLessThan(TOTAL);
      // The last 100 points change at the tick's instant, before their slice came.
      emitAll(bus, sampleAt, (i) => 10_000 + i, TOTAL - 100, TOTAL);
      await advanced;
      await recorder.flush();

      expect(await countRows(db, '"raw"."telemetry"', 'value', '"sample" = true')).toBe(TOTAL);
      const samples = await db.query(`SELECT "value" FROM "raw"."telemetry" WHERE "sample" = true GROUP BY "room", "point"`);
      expect(new Set(samples.map((r) => Date.parse(r.time!)))).toEqual(new Set([sampleAt]));
      const byPoint = new Map(samples.map((r) => [`${r.room}/${r.point}`, r.value]));
      expect(byPoint.size).toBe(TOTAL);
      for (let i = 0; i < TOTAL; i++) expect(byPoint.get(`${room(i)}/${point(i)}`)).toBe(i);
      // The last point: its change, the sample of the value it held at the tick, the new value.
      const last = await db.query(`SELECT "value", "sample" FROM "raw"."telemetry" WHERE "room" = '${room(TOTAL - 1)}' AND "point" = '${point(TOTAL - 1)}'`);
      expect(last.map((r) => [r.value, r.sample])).toEqual([
        [TOTAL - 1, false],
        [TOTAL - 1, true],
        [10_000 + TOTAL - 1, false],
      ]);
      expect(recorder.stats()).toMatchObject({ written: 2 * TOTAL + 100, dropped: 0, rejected: 0, spooled: 0, invalid: 0 });
    } finally {
      await recorder.stop();
      db.close();
      spool.remove();
    }
  });

  it("closes the 5-minute windows of 3,000 points in slices, and a late reading of the window that ended does not change that window's mean", async () => {
    const database = uniqueDatabase('slices_means');
    const window = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS - 2 * WINDOW_MS;
    const { spool, clock, bus, recorder } = await started(database, window);
    const db = reader(influxd.url, database);
    try {
      emitAll(bus, window, (i) => i);
      const advanced = clock.advance(WINDOW_MS);
      const end = window + WINDOW_MS;
      // Stamped half a second before the window ended, it arrives after the tick that
      // closed it (as a reading queued behind the tick would): it counts from the tick
      // on, so the mean of the window that ended stays exactly the value it held.
      emitAll(bus, end - 500, (i) => 10_000 + i, TOTAL - 100, TOTAL);
      await advanced;
      await recorder.flush();

      const means = await db.query(`SELECT "mean", "covered_s" FROM "long"."telemetry" WHERE time = ${end - WINDOW_MS}ms GROUP BY "room", "point"`);
      expect(means).toHaveLength(TOTAL);
      const byPoint = new Map(means.map((r) => [`${r.room}/${r.point}`, r]));
      for (let i = 0; i < TOTAL; i++) expect(byPoint.get(`${room(i)}/${point(i)}`)).toMatchObject({ mean: i, covered_s: WINDOW_MS / 1000 });
    } finally {
      await recorder.stop();
      db.close();
      spool.remove();
    }
  });
});
