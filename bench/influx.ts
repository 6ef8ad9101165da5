/**
 * npm run bench:influx — points per second sustained into a local influxd (1.6, started
 * on a free port like the tests do), three ways in the same run:
 *   ceiling   the recorder's own line-protocol batches (5,000 lines) POSTed back to back
 *             with a bare keep-alive HTTP client: what the server can take
 *   recorder  the same points as bus events through the Recorder (encode, batch, write)
 *   naive     one point per request, as a flow that writes each reading on its own
 * Each run gets a fresh database. Target: recorder ≥ 0.9 × ceiling.
 */
import http from 'node:http';
import { influxSchema } from '../controller/src/config/schema.ts';
import { silentLogger } from '../controller/src/log.ts';
import { EventBus } from '../controller/src/model/bus.ts';
import { VirtualClock } from '../controller/src/model/virtual-clock.ts';
import type { PointUpdate } from '../controller/src/model/points.ts';
import { InfluxConnection } from '../controller/src/adapters/influx.ts';
import { LineEncoder } from '../controller/src/recorder/line-protocol.ts';
import { Recorder } from '../controller/src/recorder/recorder.ts';
import { telemetryFields, telemetryRow } from '../controller/src/recorder/rows.ts';
import { startInfluxd, type Influxd } from '../controller/test/helpers/influxd.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const POINTS = Number(process.env.BENCH_POINTS ?? 300_000);
const NAIVE_POINTS = Number(process.env.BENCH_NAIVE_POINTS ?? 2_000);
const BATCH = 5000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SITE = { config: { site: { id: 'bench' } }, rooms: [] };

const ROOMS = Array.from({ length: 50 }, (_, i) => `R-${i}`);
const SENSORS = Array.from({ length: 20 }, (_, i) => `sensor.${i}.value`);
const previous = { value: null, quality: 'good' as const };

/** Point i of the run: distinct series (50 rooms × 20 points), all inside one 5-minute window so no rollup row is added. */
function update(i: number, n: number, base: number): PointUpdate {
  return { room: ROOMS[i % 50]!, point: SENSORS[((i / 50) | 0) % 20]!, device: 'sensor', value: 20 + (i % 1000) / 100, ts: base + Math.floor((i * 200_000) / n), quality: 'good', previous };
}

async function database(influxd: Influxd, name: string): Promise<void> {
  const conn = new InfluxConnection({ url: influxd.url, database: name, timeoutMs: 30_000 });
  await conn.ensureSchema([{ name: 'long', days: 400, isDefault: true }, { name: 'raw', days: 30, isDefault: false }]);
  conn.close();
}

async function ceiling(influxd: Influxd, db: string, bodies: Buffer[], points: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(`${influxd.url}/write?db=${db}&rp=raw&precision=n`, { method: 'POST', agent, headers: { 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  const t0 = performance.now();
  for (const body of bodies) await post(body);
  const s = (performance.now() - t0) / 1000;
  agent.destroy();
  return points / s;
}

async function throughRecorder(influxd: Influxd, db: string, n: number, base: number): Promise<number> {
  const spoolDir = mkdtempSync(join(tmpdir(), 'roomctl-bench-spool-'));
  const bus = new EventBus();
  // Time stands still (no tick): batches go out at 5,000 points, the tail on flush().
  const clock = VirtualClock.stepped(base);
  const recorder = new Recorder({ influx: influxSchema.parse({ url: influxd.url, database: db, batch_size: BATCH }), site: SITE, bus, clock, logger: silentLogger, spoolDir });
  await recorder.start();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    bus.emit('point', update(i, n, base));
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  await recorder.flush();
  while (recorder.stats().written < n) await new Promise((r) => setTimeout(r, 1));
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (process.env.BENCH_DEBUG) console.log(`  (recorder run: ${s.toFixed(2)} s wall, node cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s)`);
  const stats = recorder.stats();
  await recorder.stop();
  rmSync(spoolDir, { recursive: true, force: true });
  if (stats.spooled || stats.rejected || stats.dropped) throw new Error(`recorder run was not clean: ${JSON.stringify(stats)}`);
  return n / s;
}

async function naive(influxd: Influxd, db: string, lines: string[]): Promise<number> {
  const conn = new InfluxConnection({ url: influxd.url, database: db, timeoutMs: 30_000 });
  const t0 = performance.now();
  for (const line of lines) {
    const r = await conn.writeLines('raw', [line]);
    if (!r.ok) throw new Error(r.reason);
  }
  const s = (performance.now() - t0) / 1000;
  conn.close();
  return lines.length / s;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);
/** Median of the rounds: one round slowed by other work on a shared 2-core machine does not decide the figure. */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const influxd = await startInfluxd();
try {
  const base = Math.floor(Date.now() / 300_000) * 300_000;
  // The ceiling sends exactly the recorder's lines, serialised before the clock starts.
  const encoder = new LineEncoder();
  const bodies: Buffer[] = [];
  const naiveLines: string[] = [];
  for (let i = 0; i < POINTS; i += BATCH) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(POINTS, i + BATCH); j++) {
      // Exactly what the recorder writes for a point change.
      const u = update(j, POINTS, base);
      const fields = telemetryFields(u, false);
      if (typeof fields !== 'string') throw new Error(fields.reason);
      const e = encoder.line(encoder.seriesOf(telemetryRow('bench', u, false)), fields, u.ts);
      if (!e.ok) throw new Error(e.reason);
      lines.push(e.line);
      if (naiveLines.length < NAIVE_POINTS) naiveLines.push(e.line);
    }
    bodies.push(Buffer.from(lines.join('\n')));
  }
  // Warm-up: the first writes of a fresh influxd pay for shard and index creation.
  await database(influxd, 'warmup');
  await ceiling(influxd, 'warmup', bodies.slice(0, 10), 10 * BATCH);

  const ceil: number[] = [];
  const rec: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    await database(influxd, `ceiling_${round}`);
    ceil.push(await ceiling(influxd, `ceiling_${round}`, bodies, POINTS));
    await database(influxd, `recorder_${round}`);
    rec.push(await throughRecorder(influxd, `recorder_${round}`, POINTS, base));
  }
  await database(influxd, 'naive');
  const one = await naive(influxd, 'naive', naiveLines);

  const ratio = median(rec) / median(ceil);
  console.log(`bench:influx — ${POINTS.toLocaleString('en-US')} telemetry points in batches of ${BATCH}, influxd 1.6 on 127.0.0.1, median of ${ROUNDS} interleaved rounds`);
  console.log(`  bare HTTP batches (ceiling)   ${fmt(median(ceil))} points/s   [${ceil.map((x) => Math.round(x)).join(', ')}]`);
  console.log(`  through the recorder          ${fmt(median(rec))} points/s   [${rec.map((x) => Math.round(x)).join(', ')}]   ${ratio.toFixed(2)} × ceiling (target ≥ 0.90)${ratio >= 0.9 ? '' : '  BELOW TARGET'}`);
  console.log(`  one point per request (naive) ${fmt(one)} points/s   (${NAIVE_POINTS} points; the recorder is ${(median(rec) / one).toFixed(0)}× faster)`);
} finally {
  await influxd.cleanup();
}
