import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../src/model/bus.ts';
import { systemClock } from '../src/model/clock.ts';
import { Recorder } from '../src/recorder/recorder.ts';
import { startInfluxd, type Influxd } from './helpers/influxd.ts';
import { DAY_SITE_YAML } from './helpers/recorded-day.ts';
import { capturingLogger, influxConfig, reader, tempDir, uniqueDatabase } from './helpers/recorder-env.ts';
import { siteFromYaml } from './helpers/site.ts';

/**
 * P15: meeting titles and organizers never reach InfluxDB, the spool or the logs. The
 * bus event types carry no such field; here they arrive anyway (a careless producer, a
 * future field) and in the free-text fields, and none of it may be stored.
 */
const SECRETS = ['Budget Hearing With The Minister', 'Zhang Wei', 'zhang.wei@example.gov', 'VIP itinerary 3F'];
const site = siteFromYaml(DAY_SITE_YAML);
let influxd: Influxd;

beforeAll(async () => {
  influxd = await startInfluxd();
});
afterAll(async () => {
  await influxd?.cleanup();
});

function emitEverythingWithSecrets(bus: EventBus): number {
  const ts = Date.now();
  const leak = { title: SECRETS[0], organizer: SECRETS[1], organizerEmail: SECRETS[2], subject: SECRETS[0], attendees: [SECRETS[1]], itinerary: SECRETS[3] };
  const emit = bus.emit.bind(bus) as (name: string, payload: unknown) => void;
  const previous = { value: null, quality: 'offline' };
  const events: [string, unknown][] = [
    ['point', { room: '3F-301', point: 'hvac.temperature', device: 'hvac', value: 23.5, ts, quality: 'good', previous, ...leak }],
    ['point', { room: '3F-301', point: 'hvac.temperature', device: 'hvac', value: Number.NaN, ts: ts + 1, quality: 'good', previous, ...leak }],
    ['device', { room: '3F-301', device: 'hvac', online: true, errors: 0, ts, ...leak }],
    ['command', { room: '3F-301', device: 'lights', point: 'lights.main.on', requested: true, sent: true, clamped: false, commandId: 'c-1', ts, ...leak }],
    ['check', { room: '3F-301', meetingId: 'm-1', level: 'vip1', check: 'mic_test', status: 'fail', step: 'ready', observed: [-20, -80], expected: '≥ -40 dBFS', ts, ...leak }],
    ['verdict', { room: '3F-301', meetingId: 'm-1', level: 'vip1', start: ts, end: ts + 3600_000, readyAtReadyCheck: false, readyAtStart: true, minutesReadyBeforeStart: 3, minutesLate: 0, minutesInBandBeforeStart: 10, hvacMinutes: 80, failingChecks: ['mic_test'], noShow: false, ts, ...leak }],
    ['alert', { id: '3F-301/mic_test/m-1', room: '3F-301', meetingId: 'm-1', check: 'mic_test', state: 'raised', severity: 'critical', message: `mic 2 silent for "${SECRETS[0]}" of ${SECRETS[1]}`, ts, ...leak }],
    ['activity', { room: '3F-301', kind: 'scene', name: 'presentation', result: 'ok', detail: `started for ${SECRETS[0]}`, meetingId: 'm-1', ts, ...leak }],
  ];
  for (const [name, payload] of events) emit(name, payload);
  return events.length;
}

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) expect(text.includes(secret), `${where} contains "${secret}"`).toBe(false);
  expect(/title|organizer|attendee|itinerary|subject/i.test(text), `${where} names a confidential field`).toBe(false);
}

describe('P15 confidentiality in the recorder', () => {
  it('stores no meeting title, organizer or other confidential field in InfluxDB or the log, whatever the events carry', async () => {
    const database = uniqueDatabase('p15');
    const spool = tempDir();
    const bus = new EventBus();
    const log = capturingLogger('debug');
    const recorder = new Recorder({ influx: influxConfig({ url: influxd.url, database }), site, bus, clock: systemClock, logger: log.logger, spoolDir: spool.dir });
    await recorder.start();
    const emitted = emitEverythingWithSecrets(bus);
    await recorder.stop();
    const db = reader(influxd.url, database);
    try {
      // Every event but the NaN point was recorded — so there was plenty to leak.
      expect(recorder.stats().invalid).toBe(1);
      expect(recorder.stats().written).toBeGreaterThanOrEqual(emitted - 1);
      for (const q of ['SELECT * FROM "raw"./.*/', 'SELECT * FROM "long"./.*/', 'SHOW SERIES', 'SHOW FIELD KEYS', 'SHOW TAG KEYS', 'SHOW MEASUREMENTS']) {
        const answer = JSON.stringify(await db.queryRaw(q));
        expect(answer.length).toBeGreaterThan(40);
        assertNoSecret(answer, q);
      }
      assertNoSecret(log.lines().map((l) => JSON.stringify(l)).join('\n'), 'the log');
    } finally {
      db.close();
      spool.remove();
    }
  });

  it('writes no confidential field into the spool when InfluxDB is not configured', async () => {
    const spool = tempDir();
    const bus = new EventBus();
    const log = capturingLogger('debug');
    const recorder = new Recorder({ influx: influxConfig({}), site, bus, clock: systemClock, logger: log.logger, spoolDir: spool.dir });
    await recorder.start();
    const emitted = emitEverythingWithSecrets(bus);
    await recorder.stop();
    try {
      const text = readdirSync(spool.dir).map((f) => readFileSync(join(spool.dir, f), 'utf8')).join('');
      expect(text.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(emitted - 1);
      assertNoSecret(text, 'the spool');
      assertNoSecret(log.lines().map((l) => JSON.stringify(l)).join('\n'), 'the log');
    } finally {
      spool.remove();
    }
  });
});
