import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { SimulatedBuilding } from '../../../devices/sim/building.ts';
import { meetingsOfDay, simulationStart } from '../../../devices/sim/meetings.ts';
import { buildApp } from '../../src/api/app.ts';
import type { Role } from '../../src/api/roles.ts';
import { bookDay } from '../../src/cli/sim-day.ts';
import type { Site } from '../../src/config/load.ts';
import { silentLogger } from '../../src/log.ts';
import { VirtualClock } from '../../src/model/virtual-clock.ts';
import { webPages } from '../../src/panel/pages.ts';
import { RoomctlService } from '../../src/service.ts';
import { siteFromYaml } from './site.ts';
import { freePort } from './wait.ts';

/**
 * For the browser tests of the web pages: the real service (embedded broker, MQTT and
 * Modbus adapters, engine) beside the simulated building over real sockets, on a
 * VirtualClock running at real speed (a browser lives in real time), the HTTP app with
 * the pages listening on a loopback port — which can be stopped and started again on
 * the same port, as a restarting server would — and Debian's Chromium driven by
 * playwright-core (never a downloaded browser).
 */
export const CHROMIUM = '/usr/bin/chromium';
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface PanelBuilding {
  site: Site;
  service: RoomctlService;
  sim: SimulatedBuilding;
  clock: VirtualClock;
  /** `http://127.0.0.1:<port>`, the same across app restarts. */
  base: string;
  app(): FastifyInstance;
  /** A fresh token (panel and attendant tokens need their rooms). */
  token(role: Role, rooms?: string[]): string;
  /** Closes the HTTP app (every socket with it), as a server going down. */
  stopApp(): Promise<void>;
  /** Builds the app again and listens on the same port. */
  startApp(): Promise<void>;
  close(): Promise<void>;
}

/** `yaml` gets a free port for the site's one Modbus gateway. */
export async function startPanelBuilding(yaml: (gatewayPort: number) => string, options: { speed?: number } = {}): Promise<PanelBuilding> {
  const loaded = siteFromYaml(yaml(await freePort()));
  const site: Site = { ...loaded, config: { ...loaded.config, mqtt: { ...loaded.config.mqtt, url: undefined, broker: { host: '127.0.0.1', port: 0 } } } };
  const clock = VirtualClock.running(simulationStart(site), options.speed ?? 1);
  const dataDir = mkdtempSync(join(tmpdir(), 'roomctl-panel-'));
  const service = new RoomctlService({ site, logger: silentLogger, clock, dataDir, api: { enabled: false }, engine: { verifyTimeoutMs: 20_000, attempts: 2, backoffMs: 500 } });
  let sim!: SimulatedBuilding;
  let app: FastifyInstance | undefined;
  let port = 0;
  const startApp = async () => {
    const next = await buildApp(service, { logger: silentLogger, plugins: [webPages] });
    await next.listen({ host: '127.0.0.1', port });
    const address = next.server.address();
    port = typeof address === 'object' && address ? address.port : port;
    app = next;
  };
  try {
    await service.start([], (url, logins) => {
      sim = new SimulatedBuilding({ site, clock, brokerUrl: url, mqttLogin: logins?.device });
      return [{ name: 'simulated building', start: () => sim.start(), stop: () => sim.stop() }];
    });
    bookDay(service.schedule, meetingsOfDay(site), clock);
    await startApp();
  } catch (err) {
    await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    site,
    service,
    sim,
    clock,
    base: `http://127.0.0.1:${port}`,
    app: () => app!,
    token: (role, rooms) => app!.roomctl.tokens.create({ role, rooms, label: `browser test ${role}` }).token,
    stopApp: async () => {
      await app?.close();
      app = undefined;
    },
    startApp,
    close: async () => {
      await app?.close();
      await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and failed requests the pages caused (a test expects none). */
  problems: string[];
  close(): Promise<void>;
}

/** Debian's Chromium, headless, with a fresh profile; a 1280×800 window (the wall tablet). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-services.sh (Debian package chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'roomctl-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems: string[] = [];
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on('request', (req) => {
    if (!/^(http:\/\/127\.0\.0\.1|ws:\/\/127\.0\.0\.1|data:|about:)/.test(req.url())) problems.push(`request outside the server: ${req.url()}`);
  });
  return {
    context,
    page,
    problems,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Saves a screenshot under artifacts/ (gitignored). The copy under docs/ (shown by the
 * README) is written when it is missing or with UPDATE_DOCS_SCREENSHOTS=1, so running
 * the suite does not leave a changed picture in the work tree every time.
 */
export async function screenshot(page: Page, name: string, docs = false): Promise<string> {
  const file = join(REPO, 'artifacts', name);
  mkdirSync(dirname(file), { recursive: true });
  await page.screenshot({ path: file });
  const copy = join(REPO, 'docs', name);
  if (docs && (!existsSync(copy) || process.env.UPDATE_DOCS_SCREENSHOTS === '1')) {
    mkdirSync(dirname(copy), { recursive: true });
    copyFileSync(file, copy);
  }
  return file;
}
