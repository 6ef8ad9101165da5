/**
 * Bench child: roomctl's ingest path as `roomctl start` wires it — a Site built from
 * config with the shipped profiles, RoomStateStore (with its staleness sweep), the
 * event bus and MqttAdapter — in a process of its own, so its speed and its RSS are
 * roomctl's alone. A message counts once the store has applied it: the `point`
 * event with quality good that RoomStateStore emits for the changed value.
 */
import { loadConfigText } from '../../controller/src/config/load.ts';
import { MqttAdapter } from '../../controller/src/adapters/mqtt.ts';
import { silentLogger } from '../../controller/src/log.ts';
import { EventBus } from '../../controller/src/model/bus.ts';
import { systemClock } from '../../controller/src/model/clock.ts';
import { RoomStateStore } from '../../controller/src/model/room-state.ts';
import { argValue, childChannel, wallNow } from './child.ts';
import { roomId, siteYaml, TELEMETRY } from './telemetry.ts';

const url = argValue('url');
const rooms = Number(argValue('rooms'));
const rounds = Number(argValue('rounds', '0'));
const total = rooms * TELEMETRY.length * rounds;

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const baselineRssBytes = process.memoryUsage().rss;
const setupStart = performance.now();

/** As `roomctl start` does (cli/start.ts loadForStart), only the site is kept of the load, not what validate reads. */
function loadSite() {
  const load = loadConfigText(siteYaml(rooms), { env: {} });
  if (!load.site || load.errors.length > 0) throw new Error(`bench site config is invalid:\n${load.errors.slice(0, 5).join('\n')}`);
  return load.site;
}
const site = loadSite();
const listenerErrors: string[] = [];
const bus = new EventBus((event, err) => listenerErrors.push(`${event}: ${(err as Error).message}`));
const store = new RoomStateStore(site, bus, systemClock);
const devices = site.rooms.flatMap((r) => r.devices).filter((d) => d.mqtt);
const adapter = new MqttAdapter(
  { url, clientId: `roomctl-bench-${process.pid}`, sitePrefix: 'roomctl/bench', reconnect: { minMs: 500, maxMs: 5000 }, firstConnectMs: 30_000 },
  devices,
  store,
  bus,
  systemClock,
  silentLogger,
);

let count = 0;
let doneAt = 0;
const send = childChannel(
  () => count,
  async () => {
    await adapter.stop();
    store.stop();
  },
);

bus.on('point', (e) => {
  if (e.quality !== 'good') return;
  if (++count === total) {
    doneAt = wallNow();
    // Report after this event has finished going round, off the hot path.
    setImmediate(finish);
  }
});

store.start();
await adapter.start();
if (!adapter.connected) throw new Error(`roomctl could not connect to ${url}`);
// Settle: after the config load V8 keeps a heap far larger than what is live and
// gives it back over a few collections; steady-state RSS is what a site runs with.
if (gc)
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 250));
  }
const mem = process.memoryUsage();
send({ type: 'ready', rssBytes: mem.rss, peakRssBytes: process.resourceUsage().maxRSS * 1024, heapUsedBytes: mem.heapUsed, baselineRssBytes, setupMs: performance.now() - setupStart, devices: devices.length, points: devices.reduce((n, d) => n + d.points.length, 0) });

/** Completion is only claimed if every point holds its last round's value and nothing was rejected. */
function finish(): void {
  const problems: string[] = [...listenerErrors];
  const stats = adapter.stats();
  if (stats.received !== total) problems.push(`adapter received ${stats.received} device messages, expected ${total}`);
  if (stats.rejected !== 0) problems.push(`adapter rejected ${stats.rejected} payloads`);
  let wrong = 0;
  for (let r = 0; r < rooms; r++)
    for (const p of TELEMETRY) {
      const state = store.get(roomId(r), p.id);
      if (state?.quality !== 'good' || state.value !== p.value(r, rounds - 1)) wrong++;
    }
  if (wrong > 0) problems.push(`${wrong} points do not hold their last published value`);
  send({ type: 'done', count, doneAt, problems, detail: { received: stats.received, applied: stats.applied, rejected: stats.rejected } });
}
