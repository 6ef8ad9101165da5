import { loadConfigFile, type Site } from '../config/load.ts';
import { createLogger, type Logger } from '../log.ts';
import { RoomctlService, type Feature } from '../service.ts';
import { every, type Clock } from '../model/clock.ts';
import { isRoomctlError } from '../errors.ts';
import { resolveDataDir } from './data-dir.ts';

export interface StartOptions {
  config: string;
  /** Extra features (the demo table) started after the core. */
  features?: (service: RoomctlService, logger: Logger) => Feature[];
  /** Stand-ins for the building's devices (the simulator), started before the adapters. */
  devices?: (service: RoomctlService, logger: Logger, mqttUrl: string) => Feature[];
  /** Use this site instead of loading `config` again. */
  site?: Site;
  /** `--log-level`: wins over ROOMCTL_LOG_LEVEL and the config. */
  logLevel?: string;
  /** Log level when neither ROOMCTL_LOG_LEVEL nor the config sets one (the demo's quieter default). */
  defaultLogLevel?: string;
  /** Where the schedule, alerts, tokens and spool live (default: data-dir.ts). */
  dataDir?: string;
  /** `--api-port`, `--broker-port`: instead of api.port, mqtt.broker.port. */
  apiPort?: number;
  brokerPort?: number;
  /** Runs once the service is up (the demo books its day here). */
  afterStart?: (service: RoomctlService, logger: Logger) => void;
  clock?: Clock;
  /** Periodic one-line status in the log (ms of clock time); 0 = off. */
  statusEveryMs?: number;
}

/** Loads a config or prints why it cannot; bad rooms/devices are reported and skipped. */
export function loadForStart(file: string, logger: Logger): Site | undefined {
  const result = loadConfigFile(file);
  if (!result.site) {
    for (const e of result.errors) console.error(e);
    console.error(`${file}: cannot start (${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}); run \`roomctl validate ${file}\``);
    return undefined;
  }
  for (const e of result.errors) logger.warn(`config: ${e}`);
  for (const w of result.warnings) logger.warn(`config: ${w}`);
  for (const s of result.skipped) logger.warn(`config: skipped ${s}`);
  return result.site;
}

/**
 * `roomctl start`: load, connect, poll, keep room state, log concisely. SIGINT /
 * SIGTERM stop everything in reverse order and the process exits 0 with no handle
 * left open.
 */
export async function startCommand(options: StartOptions): Promise<number> {
  const bootLogger = createLogger(process.env.ROOMCTL_LOG_LEVEL || 'info');
  const loaded = options.site ?? loadForStart(options.config, bootLogger);
  if (!loaded) return 1;
  const site = withPorts(loaded, options);
  const logger = createLogger(options.logLevel || process.env.ROOMCTL_LOG_LEVEL || options.defaultLogLevel || site.config.log.level);
  const dataDir = options.dataDir ?? resolveDataDir({ site, configFile: options.config });
  const service = new RoomctlService({ site, logger, clock: options.clock, dataDir });
  let stopping: Promise<void> | undefined;
  let stopAsked = 0;
  // One Ctrl-C under `npm start` arrives twice: from the terminal to the whole process group
  // and again forwarded by npm. A handler for only the first let the second kill the process
  // mid-stop (npm then exited 130). So repeats within 2 s are the same request; a later one
  // means "stop now" and exits at once.
  const stop = (signal: string) => {
    if (stopping) {
      if (Date.now() - stopAsked < 2000) return;
      logger.warn({ signal }, 'asked again while stopping: exiting now');
      process.exit(130);
    }
    stopAsked = Date.now();
    logger.info({ signal }, 'stopping');
    stopping = service.stop();
  };
  const onSigint = () => stop('SIGINT');
  const onSigterm = () => stop('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  service.bus.on('device', (d) => {
    if (d.online || d.lastError) logger.debug({ room: d.room, device: d.device, online: d.online, error: d.lastError }, 'device');
  });
  let lastOnline = new Map<string, boolean>();
  service.bus.on('device', (d) => {
    const k = `${d.room}/${d.device}`;
    if (lastOnline.get(k) === d.online) return;
    lastOnline.set(k, d.online);
    // Coming online is routine (every device at start-up): debug. Going offline is news.
    if (d.online) logger.debug(`device ${k} online`);
    else logger.warn(`device ${k} offline${d.lastError ? `: ${d.lastError}` : ''}`);
  });
  try {
    const extra = options.features?.(service, logger) ?? [];
    await service.start(extra, (url) => options.devices?.(service, logger, url) ?? []);
    options.afterStart?.(service, logger);
  } catch (err) {
    await service.stop().catch(() => {});
    if (isRoomctlError(err)) {
      console.error(`roomctl: ${err.message}`);
      return 1;
    }
    throw err;
  }
  const rooms = site.rooms.length;
  const devices = site.rooms.reduce((n, r) => n + r.devices.length, 0);
  logger.info(`roomctl started: site ${site.config.site.id}, ${rooms} rooms, ${devices} devices, MQTT ${service.mqttUrl}, data ${service.dataDir}`);
  const statusEvery = options.statusEveryMs ?? 60_000;
  const stopStatus = statusEvery > 0 ? every(service.clock, statusEvery, () => logger.info(statusLine(service))) : () => {};
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (stopping) {
        clearInterval(poll);
        resolve();
      }
    }, 50);
  });
  stopStatus();
  await stopping;
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  lastOnline = new Map();
  logger.info('stopped cleanly');
  return 0;
}

/** The site with the command line's port overrides applied (the config file is not changed). */
function withPorts(site: Site, o: Pick<StartOptions, 'apiPort' | 'brokerPort'>): Site {
  if (o.apiPort === undefined && o.brokerPort === undefined) return site;
  const { api, mqtt } = site.config;
  const config = {
    ...site.config,
    api: o.apiPort === undefined ? api : { ...api, port: o.apiPort },
    mqtt: o.brokerPort === undefined ? mqtt : { ...mqtt, broker: { ...mqtt.broker, port: o.brokerPort } },
  };
  return { ...site, config };
}

export function statusLine(service: RoomctlService): string {
  let good = 0;
  let stale = 0;
  let offline = 0;
  for (const room of service.site.rooms)
    for (const p of service.state.roomPoints(room.id)) {
      if (p.quality === 'good') good++;
      else if (p.quality === 'stale') stale++;
      else offline++;
    }
  const health = service.state.allDeviceHealth();
  const online = health.filter((h) => h.online).length;
  return `points good ${good} · stale ${stale} · offline ${offline}; devices online ${online}/${health.length}`;
}
