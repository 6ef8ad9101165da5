/**
 * Bench child for bench:scene: the whole roomctl service as `roomctl start` runs it
 * (MQTT adapter on the bench's Mosquitto, room state, state topics, recorder — spooling,
 * as there is no InfluxDB —, schedule, readiness engine) with the HTTP API and the web
 * pages on a loopback port and the wall-keypad listener, in a process of its own so its
 * CPU and its event loop are roomctl's alone. One difference from `roomctl start`, for
 * the measurement: the panel's scene rate limit (6 a minute) is lifted — so the app is
 * built here (`api.enabled: false` leaves the service's keypad listener running).
 *
 * IPC: → { type: 'ready', url, token, setupMs }; ← { type: 'stats' } → { type: 'stats',
 * telemetry, cpuMs }; ← { type: 'stop' } → stops everything and exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../controller/src/api/app.ts';
import { loadConfigText } from '../../controller/src/config/load.ts';
import { silentLogger } from '../../controller/src/log.ts';
import { webPages } from '../../controller/src/panel/pages.ts';
import { RoomctlService } from '../../controller/src/service.ts';
import { argValue } from './child.ts';
import { SCENE_ROOM, sceneSiteYaml } from './scene-site.ts';

export type RoomctlChildReport = { type: 'ready'; url: string; token: string; setupMs: number } | { type: 'stats'; telemetry: number; cpuMs: number; reconnects: number; commandsSent: number; loopDelayMaxMs: number; loopDelayP99Ms: number };
export type RoomctlChildCommand = { type: 'stats' } | { type: 'stop' };

const setupStart = performance.now();
const brokerUrl = argValue('url');
const rooms = Number(argValue('rooms'));
const send = (r: RoomctlChildReport) => process.send!(r);
if (!process.send) throw new Error('this file is a bench child: run it through `npm run bench:scene`');

const load = loadConfigText(sceneSiteYaml(rooms, brokerUrl), { env: {} });
if (!load.site || load.errors.length > 0) throw new Error(`bench site config is invalid:\n${load.errors.slice(0, 5).join('\n')}`);
const site = load.site;
const dataDir = mkdtempSync(join(tmpdir(), 'roomctl-bench-scene-'));
const service = new RoomctlService({ site, logger: silentLogger, dataDir, api: { enabled: false } });
let app: FastifyInstance | undefined;

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

/** Telemetry readings applied to room state (the background load), as the ingest bench counts them. */
let telemetry = 0;
service.bus.on('point', (e) => {
  if (e.quality === 'good' && e.room !== SCENE_ROOM) telemetry++;
});

process.on('message', (m: RoomctlChildCommand) => {
  if (m.type === 'stats') {
    const u = process.cpuUsage();
    const mqtt = service.mqtt.stats();
    // Event-loop delay since the last stats: how long a press could have waited for roomctl's turn.
    send({ type: 'stats', telemetry, cpuMs: (u.user + u.system) / 1000, reconnects: mqtt.reconnects, commandsSent: mqtt.commandsSent, loopDelayMaxMs: loop.max / 1e6, loopDelayP99Ms: loop.percentile(99) / 1e6 });
    loop.reset();
  }
  if (m.type === 'stop') void stop();
});

async function stop(): Promise<void> {
  await app?.close();
  await service.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.disconnect?.();
  process.exit(0);
}

await service.start();
app = await buildApp(service, { logger: silentLogger, plugins: [webPages], sceneLimits: { panel: 1_000_000 } });
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
const token = app.roomctl.tokens.create({ role: 'panel', rooms: [SCENE_ROOM], label: 'bench:scene panel' }).token;
send({ type: 'ready', url: `http://127.0.0.1:${port}`, token, setupMs: performance.now() - setupStart });
