import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoomctlError, ErrorCode } from '../src/errors.ts';
import { EventBus } from '../src/model/bus.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { Recorder } from '../src/recorder/recorder.ts';
import { buildReport, formatReport } from '../src/recorder/report.ts';
import { silentLogger } from '../src/log.ts';
import { startInfluxd, type Influxd } from './helpers/influxd.ts';
import { playDay, simulatedDay, DAY_SITE_YAML, type SimulatedDay } from './helpers/recorded-day.ts';
import { influxConfig, tempDir, uniqueDatabase } from './helpers/recorder-env.ts';
import { siteFromYaml } from './helpers/site.ts';

const TZ = 'Asia/Shanghai';
let influxd: Influxd;
let day: SimulatedDay;
let database: string;

beforeAll(async () => {
  influxd = await startInfluxd();
  day = simulatedDay(TZ);
  database = uniqueDatabase('report');
  const spool = tempDir();
  const bus = new EventBus();
  const clock = VirtualClock.stepped(day.start - 60_000);
  const recorder = new Recorder({ influx: influxConfig({ url: influxd.url, database }), site: siteFromYaml(DAY_SITE_YAML), bus, clock, logger: silentLogger, spoolDir: spool.dir });
  await recorder.start();
  await playDay(day, bus, clock);
  await recorder.stop();
  spool.remove();
});
afterAll(async () => {
  await influxd?.cleanup();
});

describe('the readiness report (P4 daily record, P9 monthly)', () => {
  it('counts the day’s meetings, readiness at T-15 and at start, late starts, no-shows and failures by check from InfluxDB', async () => {
    const report = await buildReport(influxConfig({ url: influxd.url, database }), { day: day.day, timezone: TZ });
    expect(report.period).toMatchObject({ kind: 'day', label: day.day, timezone: TZ });
    expect(report.totals).toEqual({
      meetings: day.meetings.total,
      readyAtReadyCheck: day.meetings.readyT15,
      readyAtStart: day.meetings.readyAtStart,
      late: day.meetings.late,
      noShows: day.meetings.noShows,
      shareReadyAtReadyCheck: day.meetings.readyT15 / day.meetings.total,
    });
    expect(report.rooms.map((r) => r.room)).toEqual(day.rooms);
    expect(report.meetings.map((m) => m.localStart)).toEqual(['09:00', '09:00', '09:00', '11:00', '11:00', '11:00', '14:00', '14:00', '14:00', '16:00', '16:00', '16:00']);
    const failed = Object.fromEntries(report.checks.filter((c) => c.failed > 0).map((c) => [c.check, c.failed]));
    expect(failed).toEqual(day.failures);
    expect(report.meetings.find((m) => m.room === '3F-302' && m.localStart === '11:00')?.failingChecks).toEqual(['temperature_in_band']);
    // The JSON form carries the same numbers (what `roomctl report --json` prints).
    expect(JSON.parse(JSON.stringify(report)).totals.meetings).toBe(12);
  });

  it('prints the day as tables an engineer can read, meeting ids only and no titles', async () => {
    const text = formatReport(await buildReport(influxConfig({ url: influxd.url, database }), { day: day.day, timezone: TZ }));
    expect(text).toContain(`Readiness report for ${day.day} (${TZ})`);
    expect(text).toMatch(/Meetings 12 · ready at T-15 10 \(83%\) · ready at start 11 \(92%\) · late 1 · no-shows 2/);
    expect(text).toMatch(/^3F-302\s+4\s+3\s+3\s+0\s+1$/m);
    expect(text).toMatch(new RegExp(`^11:00\\s+3F-302\\s+3F-302-${day.day}-2\\s+normal\\s+no\\s+no\\s+-\\s+0\\s+no\\s+temperature_in_band$`, 'm'));
    expect(text).toMatch(/^temperature_in_band\s+12\s+11\s+1\s+0$/m);
  });

  it('reports a whole month with --month, and an empty day as having no meetings', async () => {
    const month = day.day.slice(0, 7);
    const report = await buildReport(influxConfig({ url: influxd.url, database }), { month, timezone: TZ });
    expect(report.period).toMatchObject({ kind: 'month', label: month });
    expect(report.totals.meetings).toBe(12);
    expect(formatReport(report)).toContain('P4/P9 monthly');
    const empty = await buildReport(influxConfig({ url: influxd.url, database }), { day: '2001-01-01', timezone: TZ });
    expect(empty.totals).toMatchObject({ meetings: 0, shareReadyAtReadyCheck: null });
    expect(formatReport(empty)).toContain('No meetings recorded in this period.');
  });

  it('refuses a report without influx.url, a malformed day, or a day and a month together, with a stable error code', async () => {
    const refused = async (p: Promise<unknown>) => {
      const err = await p.then(() => undefined, (e: unknown) => e);
      expect(isRoomctlError(err, ErrorCode.ReportInvalid), String(err)).toBe(true);
      return (err as Error).message;
    };
    expect(await refused(buildReport(undefined, { timezone: TZ }))).toMatch(/influx\.url/);
    expect(await refused(buildReport(influxConfig({ url: influxd.url, database }), { day: '2026-02-30', timezone: TZ }))).toMatch(/YYYY-MM-DD/);
    expect(await refused(buildReport(influxConfig({ url: influxd.url, database }), { day: '2026-02-03', month: '2026-02', timezone: TZ }))).toMatch(/not both/);
  });
});

describe('roomctl report', () => {
  it('prints the day as JSON from the InfluxDB named in the config, and exits 1 with the reason when it cannot', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join, resolve } = await import('node:path');
    const root = resolve(import.meta.dirname, '../..');
    const dir = mkdtempSync(join(tmpdir(), 'roomctl-report-'));
    const withInflux = join(dir, 'site.yaml');
    writeFileSync(withInflux, `${DAY_SITE_YAML}\ninflux: { url: "${influxd.url}", database: ${database} }\n`);
    const run = spawnSync(process.execPath, [join(root, 'bin/roomctl.js'), 'report', '--config', withInflux, '--day', day.day, '--json'], { cwd: root, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).totals).toMatchObject({ meetings: 12, readyAtReadyCheck: 10, noShows: 2 });
    const table = spawnSync(process.execPath, [join(root, 'bin/roomctl.js'), 'report', '--config', withInflux, '--day', day.day], { cwd: root, encoding: 'utf8' });
    expect(table.stdout).toMatch(/Meetings 12 · ready at T-15 10 \(83%\)/);
    const without = join(dir, 'no-influx.yaml');
    writeFileSync(without, DAY_SITE_YAML);
    const refused = spawnSync(process.execPath, [join(root, 'bin/roomctl.js'), 'report', '--config', without], { cwd: root, encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/roomctl report: .*influx\.url/);
  });
});
