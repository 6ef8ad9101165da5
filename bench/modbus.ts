/**
 * npm run bench:modbus [-- --seconds S --gateways G --units U --latency MS]
 * (or BENCH_MODBUS_SECONDS, …; defaults 40 s per poller, 20 gateways, 50 units each, 10 ms)
 *
 * Issue 12, item 6: 1,000 fan-coil units (devices/profiles/fcu-modbus.yaml, 8 points)
 * behind 20 Modbus TCP gateways, each request answered 10 ms late, one dead unit per
 * gateway; poll period 5 s, request timeout 1 s. Reports for the live units the
 * achieved poll period (p50/p99, and as a ratio to the configured one) and the
 * requests per device per cycle against the minimum — Σ ceil(span/125) over the
 * profile's read blocks — for
 *   - roomctl's Modbus adapter (the service's own class, on the system clock);
 *   - a naive poller in the same process: one request per point, every device in turn.
 * Both run against the same gateways, one after the other, for the same time.
 */
import { ModbusAdapter } from '../controller/src/adapters/modbus.ts';
import { planReads } from '../controller/src/adapters/modbus-plan.ts';
import { loadConfigText } from '../controller/src/config/load.ts';
import { silentLogger } from '../controller/src/log.ts';
import { EventBus } from '../controller/src/model/bus.ts';
import { systemClock } from '../controller/src/model/clock.ts';
import type { ResolvedDevice } from '../controller/src/model/devices.ts';
import type { PointSink } from '../controller/src/model/room-state.ts';
import { BenchGateway, NaivePoller } from './lib/modbus-plant.ts';
import { option } from './lib/options.ts';

const SECONDS = option('seconds', 'BENCH_MODBUS_SECONDS', 40);
const GATEWAYS = option('gateways', 'BENCH_MODBUS_GATEWAYS', 20);
const UNITS = option('units', 'BENCH_MODBUS_UNITS', 50);
const LATENCY_MS = option('latency', 'BENCH_MODBUS_LATENCY_MS', 10);
const POLL_MS = 5000;
const TIMEOUT_MS = 1000;
/** The first polls start all at once and include connecting: not what the period is about. */
const WARMUP_MS = 2 * POLL_MS;
const DEAD_UNIT = UNITS; // the last unit of every gateway

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]! : NaN);

interface Result {
  name: string;
  p50: number;
  p99: number;
  max: number;
  /** Live devices that completed no poll at all in the window. */
  starved: number;
  requestsPerCycle: number;
  deadPerMinute: number;
}

/** Per live device: when each complete read of all its points finished. */
class Periods {
  private last = new Map<string, number>();
  private count = new Map<string, number>();
  readonly intervals: number[] = [];
  constructor(private from: number) {}
  mark(key: string, at: number): void {
    if (at < this.from) return void this.last.set(key, at);
    const prev = this.last.get(key);
    if (prev !== undefined) this.intervals.push(at - prev);
    this.last.set(key, at);
    this.count.set(key, (this.count.get(key) ?? 0) + 1);
  }
  polls(): number {
    return [...this.count.values()].reduce((a, b) => a + b, 0);
  }
  devicesSeen(): number {
    return this.count.size;
  }
}

async function run(name: string, gateways: BenchGateway[], devices: ResolvedDevice[], start: (periods: Periods) => Promise<() => Promise<void>>): Promise<Result> {
  for (const g of gateways) g.resetCounts();
  const t0 = performance.now();
  const periods = new Periods(t0 + WARMUP_MS);
  const stop = await start(periods);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  for (const g of gateways) g.resetCounts(); // count requests inside the window only
  const windowStart = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const windowMs = performance.now() - windowStart;
  const sum = (unitFilter: (u: number) => boolean) => gateways.reduce((a, g) => a + [...g.frames].filter(([u]) => unitFilter(u)).reduce((s, [, n]) => s + n, 0), 0);
  const liveFrames = sum((u) => u !== DEAD_UNIT);
  const deadFrames = sum((u) => u === DEAD_UNIT);
  await stop();
  const sorted = [...periods.intervals].sort((a, b) => a - b);
  const live = devices.filter((d) => d.modbus!.unit !== DEAD_UNIT).length;
  return {
    name,
    p50: pct(sorted, 0.5),
    p99: pct(sorted, 0.99),
    max: sorted.at(-1) ?? NaN,
    starved: live - periods.devicesSeen(),
    requestsPerCycle: liveFrames / Math.max(1, periods.polls()),
    deadPerMinute: (deadFrames / gateways.length) * (60_000 / windowMs),
  };
}

async function main(): Promise<void> {
  const gateways = Array.from({ length: GATEWAYS }, () => new BenchGateway(new Set(Array.from({ length: UNITS - 1 }, (_, i) => i + 1)), LATENCY_MS));
  await Promise.all(gateways.map((g) => g.start()));
  const rooms: string[] = [];
  gateways.forEach((g, gi) => {
    for (let u = 1; u <= UNITS; u++)
      rooms.push(`  - { id: R${gi}-${u}, name: Room ${gi}-${u}, capacity: 6, devices: [ { name: hvac, profile: fcu-modbus, modbus: { gateway: gw${gi}, unit: ${u} } } ] }`);
  });
  const yaml = `site: { id: bench, name: Modbus Bench, timezone: Asia/Shanghai }
modbus:
  gateways:
${gateways.map((g, i) => `    - { id: gw${i}, tcp: { host: 127.0.0.1, port: ${g.port} }, timeout_ms: ${TIMEOUT_MS} }`).join('\n')}
rooms:
${rooms.join('\n')}
`;
  const load = loadConfigText(yaml, { env: {} });
  if (!load.site || load.errors.length) throw new Error(`bench config: ${load.errors.join('; ')}`);
  const devices = load.site.rooms.flatMap((r) => r.devices);
  const plan = planReads(devices[0]!.points);
  const minimum = plan.blocks.reduce((a, b) => a + Math.ceil(b.count / 125), 0);
  console.log(`bench:modbus — ${devices.length} FCUs (fcu-modbus, ${devices[0]!.points.length} points) behind ${GATEWAYS} TCP gateways, ${LATENCY_MS} ms per request, 1 dead unit per gateway`);
  console.log(`poll period ${POLL_MS} ms, request timeout ${TIMEOUT_MS} ms; ${SECONDS} s measured per poller after ${WARMUP_MS / 1000} s warm-up; minimum requests per cycle ${minimum} (${plan.blocks.map((b) => `${b.table} ${b.address}+${b.count}`).join(', ')})\n`);

  const results: Result[] = [];
  results.push(
    await run('roomctl', gateways, devices, async (periods) => {
      const sink: PointSink = {
        reading: () => {},
        rejected: () => {},
        deviceStatus: (room, device, online) => online && periods.mark(`${room}/${device}`, performance.now()),
      };
      const adapter = new ModbusAdapter(devices, sink, new EventBus(() => {}), systemClock, silentLogger);
      await adapter.start();
      return () => adapter.stop();
    }),
  );
  const byGateway = gateways.map((g, gi) => ({ port: g.port, devices: devices.filter((d) => d.modbus!.link.key === `tcp:127.0.0.1:${g.port}` && gi >= 0) }));
  results.push(
    await run('naive, one request per point', gateways, devices, async (periods) => {
      const naive = new NaivePoller(byGateway, POLL_MS, TIMEOUT_MS, (d, at) => periods.mark(`${d.room}/${d.name}`, at));
      await naive.start();
      return () => naive.stop();
    }),
  );
  await Promise.all(gateways.map((g) => g.stop()));

  const col = (s: string | number, w: number) => String(s).padStart(w);
  console.log(`${'poller'.padEnd(30)}${col('period p50', 12)}${col('p99', 9)}${col('max', 9)}${col('p50/conf', 10)}${col('p99/conf', 10)}${col('req/cycle', 11)}${col('vs min', 8)}${col('dead req/min', 14)}${col('starved', 9)}`);
  for (const r of results)
    console.log(
      `${r.name.padEnd(30)}${col(`${Math.round(r.p50)} ms`, 12)}${col(`${Math.round(r.p99)} ms`, 9)}${col(`${Math.round(r.max)} ms`, 9)}${col((r.p50 / POLL_MS).toFixed(2), 10)}${col((r.p99 / POLL_MS).toFixed(2), 10)}${col(r.requestsPerCycle.toFixed(2), 11)}${col((r.requestsPerCycle / minimum).toFixed(2), 8)}${col(r.deadPerMinute.toFixed(1), 14)}${col(r.starved, 9)}`,
    );
  const [ours, naive] = results as [Result, Result];
  const held = ours.p99 <= POLL_MS * 1.1 && ours.starved === 0;
  console.log(`\nroomctl holds the ${POLL_MS} ms period for the live units: ${held ? 'yes' : 'NO'} (p99 ${(ours.p99 / POLL_MS).toFixed(2)}× configured; naive p99 ${(naive.p99 / POLL_MS).toFixed(2)}×, ${(naive.p99 / ours.p99).toFixed(1)}× roomctl's)`);
  process.exitCode = held ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
