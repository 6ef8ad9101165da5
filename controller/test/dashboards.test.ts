import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../src/model/bus.ts';
import { silentLogger } from '../src/log.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { Recorder } from '../src/recorder/recorder.ts';
import type { InfluxConnection } from '../src/adapters/influx.ts';
import { startInfluxd, type Influxd } from './helpers/influxd.ts';
import { playDay, simulatedDay, DAY_SITE_YAML, type SimulatedDay } from './helpers/recorded-day.ts';
import { influxConfig, reader, tempDir, uniqueDatabase } from './helpers/recorder-env.ts';
import { siteFromYaml } from './helpers/site.ts';

/** The fields Grafana (10/11) needs to load a dashboard and run its InfluxQL panels. */
const datasourceRef = z.strictObject({ type: z.literal('influxdb'), uid: z.literal('roomctl-influxdb') });
const target = z.object({ refId: z.string().regex(/^[A-Z]$/), datasource: datasourceRef, rawQuery: z.literal(true), query: z.string().min(10), resultFormat: z.enum(['time_series', 'table']) });
const gridPos = z.object({ x: z.number().int().min(0).max(23), y: z.number().int().min(0), w: z.number().int().min(1).max(24), h: z.number().int().min(1) }).refine((g) => g.x + g.w <= 24, 'panel wider than the 24-column grid');
const panel = z.object({
  id: z.number().int().positive(),
  type: z.enum(['timeseries', 'stat', 'table', 'state-timeline', 'barchart', 'bargauge', 'gauge']),
  title: z.string().min(3),
  datasource: datasourceRef,
  gridPos,
  targets: z.array(target).min(1),
  fieldConfig: z.object({ defaults: z.record(z.string(), z.unknown()), overrides: z.array(z.unknown()) }).optional(),
  options: z.record(z.string(), z.unknown()).optional(),
  timeFrom: z.string().optional(),
});
const variable = z.object({ name: z.string().regex(/^[a-z_]+$/), type: z.enum(['query', 'custom', 'constant']), query: z.string().min(1), datasource: datasourceRef.optional() });
const dashboard = z.object({
  uid: z.string().regex(/^roomctl-[a-z-]+$/),
  title: z.string().startsWith('roomctl — '),
  schemaVersion: z.number().int().min(36),
  version: z.number().int(),
  editable: z.boolean(),
  tags: z.array(z.string()).refine((t) => t.includes('roomctl'), 'tagged roomctl (the dashboards link each other by tag)'),
  time: z.object({ from: z.string(), to: z.string() }),
  templating: z.object({ list: z.array(variable) }),
  panels: z
    .array(panel)
    .min(1)
    .refine((ps) => new Set(ps.map((p) => p.id)).size === ps.length, 'panel ids must be unique'),
});

const DIR = join(import.meta.dirname, '../../dashboards');
const files = readdirSync(join(DIR, 'json')).filter((f) => f.endsWith('.json')).sort();
const boards = files.map((f) => ({ file: f, json: JSON.parse(readFileSync(join(DIR, 'json', f), 'utf8')) as unknown }));

const TZ = 'Asia/Shanghai';
let influxd: Influxd;
let day: SimulatedDay;
let db: InfluxConnection;

beforeAll(async () => {
  influxd = await startInfluxd();
  day = simulatedDay(TZ);
  const database = uniqueDatabase('dash');
  const spool = tempDir();
  const bus = new EventBus();
  const clock = VirtualClock.stepped(day.start - 60_000);
  const recorder = new Recorder({ influx: influxConfig({ url: influxd.url, database }), site: siteFromYaml(DAY_SITE_YAML), bus, clock, logger: silentLogger, spoolDir: spool.dir });
  await recorder.start();
  await playDay(day, bus, clock);
  await recorder.stop();
  spool.remove();
  db = reader(influxd.url, database);
});
afterAll(async () => {
  db?.close();
  await influxd?.cleanup();
});

/** What Grafana substitutes before sending a query: the day's range, an interval, the variables. */
function substitute(query: string): string {
  return query
    .replaceAll('$timeFilter', `time >= ${day.start - 3600_000}ms and time <= ${day.end + 3600_000}ms`)
    .replaceAll('$__interval', '5m')
    .replaceAll('$room', '3F-302')
    .replaceAll('$timezone', TZ);
}

/** True when an InfluxDB answer has a series with a non-null value (beside its time column). */
function hasData(answer: Awaited<ReturnType<InfluxConnection['queryRaw']>>): boolean {
  return (answer.results ?? []).some((r) =>
    (r.series ?? []).some((s) => {
      const skip = s.columns[0] === 'time' ? 1 : 0;
      return (s.values ?? []).some((row) => row.slice(skip).some((v) => v !== null));
    }),
  );
}

describe('the Grafana dashboards', () => {
  it('ships the four dashboards: building overview, room detail, device health and energy', () => {
    expect(files).toEqual(['devices.json', 'energy.json', 'overview.json', 'room.json']);
  });

  it.each(boards)('validates $file against the fields Grafana needs', ({ json }) => {
    const r = dashboard.safeParse(json);
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
  });

  it('provisions an InfluxQL datasource with the uid every panel uses, and a file provider', () => {
    const ds = parseYaml(readFileSync(join(DIR, 'datasources/roomctl-influxdb.yaml'), 'utf8')) as { datasources: Record<string, unknown>[] };
    expect(ds.datasources[0]).toMatchObject({ uid: 'roomctl-influxdb', type: 'influxdb', access: 'proxy', jsonData: { dbName: 'roomctl', version: 'InfluxQL' } });
    const provider = parseYaml(readFileSync(join(DIR, 'dashboards/provider.yaml'), 'utf8')) as { providers: Record<string, unknown>[] };
    expect(provider.providers[0]).toMatchObject({ type: 'file', options: { path: expect.any(String) } });
  });

  it.each(boards)('runs every panel query and variable query of $file against influxd after a recorded day, and each returns data', async ({ file, json }) => {
    const board = dashboard.parse(json);
    const queries = [...board.templating.list.filter((v) => v.type === 'query').map((v) => ({ where: `variable ${v.name}`, q: v.query })), ...board.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}" ${t.refId}`, q: t.query })))];
    const empty: string[] = [];
    for (const { where, q } of queries) {
      const answer = await db.queryRaw(substitute(q));
      const error = answer.error ?? answer.results?.find((r) => r.error)?.error;
      if (error) empty.push(`${file} ${where}: ${error}\n  ${substitute(q)}`);
      else if (!hasData(answer)) empty.push(`${file} ${where}: no data\n  ${substitute(q)}`);
    }
    expect(empty).toEqual([]);
  });
});
