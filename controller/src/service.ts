import type { Site } from './config/load.ts';
import type { Logger } from './log.ts';
import { EventBus } from './model/bus.ts';
import { systemClock, type Clock } from './model/clock.ts';
import { CommandRouter } from './model/commands.ts';
import { RoomStateStore } from './model/room-state.ts';
import type { DeviceAdapter } from './model/adapter.ts';
import { MqttAdapter } from './adapters/mqtt.ts';
import { ModbusAdapter } from './adapters/modbus.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './adapters/broker.ts';
import { securityFindings } from './config/security-checks.ts';
import { ErrorCode, RoomctlError } from './errors.ts';
import { embeddedBrokerLogins, generatedSecret, type RunLogins } from './adapters/broker-auth.ts';
import { StatePublisher } from './model/state-publisher.ts';
import { Recorder } from './recorder/recorder.ts';
import { join, resolve } from 'node:path';
import { Schedule } from './engine/timeline/schedule.ts';
import { Engine, type EngineSettings } from './engine/engine.ts';
import { ApiServer } from './api/server.ts';
import { webPages } from './panel/pages.ts';
import { CalendarFeeds } from './calendar/calendar-feeds.ts';
import { HomeAssistantDiscovery } from './ha/home-assistant.ts';
import type { ApiConfig } from './config/schema.ts';

export interface ServiceOptions {
  site: Site;
  logger: Logger;
  clock?: Clock;
  /** Where the schedule, alerts and readiness records are kept; default `.roomctl/` under the working directory. */
  dataDir?: string;
  /** Engine timings and the HVAC start strategy (sim run, bench); default: the procedures' values. */
  engine?: Partial<EngineSettings>;
  /** Overrides of the config's `api:` section (tests: port 0, or enabled: false). */
  api?: Partial<ApiConfig>;
  /** The embedded broker sends without Nagle (a simulated day played as fast as it goes; EmbeddedBrokerOptions.noDelay). */
  brokerNoDelay?: boolean;
}

export type { MqttCredentials, RunLogins } from './adapters/broker-auth.ts';

/** Anything that plugs into the service: constructed with its dependencies, then started and stopped. */
export interface Feature {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/**
 * The running controller: embedded broker (when the config names no MQTT URL),
 * the protocol adapters, room state, and the features built on them. Features are
 * started in order and stopped in reverse, so nothing outlives what it depends on.
 */
export class RoomctlService {
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly state: RoomStateStore;
  readonly commands: CommandRouter;
  /** Created by start(): the broker URL is only known once the embedded broker listens. */
  mqtt!: MqttAdapter;
  readonly modbus: ModbusAdapter;
  private adapters: DeviceAdapter[] = [];
  /** Where the MQTT adapter connects (the embedded broker's URL when there is one). */
  mqttUrl = '';
  /** The embedded broker's TLS URL, when it listens on TLS. */
  mqttTlsUrl?: string;
  /** What the embedded broker refused (logins, publishes, subscriptions, oversized packets, retained, rate). */
  brokerRefused?: EmbeddedBroker['refused'];
  /** Per-run logins of the embedded broker; undefined with mqtt.url (an external broker). */
  logins?: RunLogins;
  private started: Feature[] = [];
  private brokerClose?: () => Promise<void>;
  readonly dataDir: string;
  /** The booked meetings (persisted in <dataDir>/meetings.json). */
  readonly schedule: Schedule;
  /** The readiness engine; created by start() (it publishes through the MQTT adapter). */
  engine!: Engine;
  /** The HTTP API, its WebSocket and the keypad listener; created by start() after the engine. */
  api!: ApiServer;
  /** Rooms' iCalendar feeds (issue 7); created by start() (its alerts go through the engine's alert book). */
  calendar!: CalendarFeeds;
  /** Everything observed and done, to InfluxDB (or its spool). Started first, stopped last. */
  readonly recorder: Recorder;

  constructor(private options: ServiceOptions) {
    const { site, logger } = options;
    this.clock = options.clock ?? systemClock;
    this.dataDir = resolve(options.dataDir ?? '.roomctl');
    this.schedule = new Schedule({ clock: this.clock, rooms: site.rooms.map((r) => r.id), file: join(this.dataDir, 'meetings.json'), timeZone: site.config.site.timezone, logger: logger.child({ part: 'schedule' }) });
    this.bus = new EventBus((event, err) => logger.error({ event, err }, 'a listener failed; the others still ran'));
    this.state = new RoomStateStore(site, this.bus, this.clock);
    this.recorder = new Recorder({ influx: site.config.influx, site, bus: this.bus, clock: this.clock, logger: logger.child({ part: 'recorder' }), spoolDir: join(this.dataDir, 'spool') });
    const devices = site.rooms.flatMap((r) => r.devices);
    this.modbus = new ModbusAdapter(devices.filter((d) => d.modbus), this.state, this.bus, this.clock, logger.child({ part: 'modbus' }));
    this.adapters.push(this.modbus);
    this.commands = new CommandRouter(site, this.adapters, this.bus, this.clock);
  }

  /** `roomctl/<site>`: the prefix of everything roomctl publishes. */
  get sitePrefix(): string {
    return `${this.options.site.config.mqtt.topic_prefix}/${this.options.site.config.site.id}`;
  }

  get site(): Site {
    return this.options.site;
  }

  /**
   * `devices` are features that stand in for the building's devices (the simulator):
   * they start once the broker URL is known and before the adapters connect, so the
   * adapters find the devices' retained state; they stop last.
   */
  async start(extra: Feature[] = [], devices: (mqttUrl: string, logins?: RunLogins) => Feature[] = () => []): Promise<void> {
    const { site, logger } = this.options;
    const mqttConfig = site.config.mqtt;
    const clientId = mqttConfig.client_id ?? `roomctl-${site.config.site.id}`;
    let username = mqttConfig.username;
    let password = mqttConfig.password;
    if (!mqttConfig.url) {
      const b = mqttConfig.broker;
      const refusal = securityFindings(site).errors.find((e) => e.startsWith('mqtt.broker.allow_anonymous'));
      if (refusal) throw new RoomctlError(ErrorCode.ConfigInvalid, refusal);
      username ??= 'roomctl';
      password ??= generatedSecret();
      const { logins, run } = embeddedBrokerLogins(site, this.sitePrefix, { username, password });
      this.logins = run;
      const broker = await startEmbeddedBroker({
        host: b.host,
        port: b.port,
        auth: { logins, allowAnonymous: b.allow_anonymous },
        reservedClientIds: { [clientId]: username },
        maxPacketBytes: b.max_packet_bytes,
        noDelay: this.options.brokerNoDelay,
        maxRetainedPerClient: b.max_retained_per_client,
        maxRetainedTotal: b.max_retained_total,
        maxConnectionsPerSecond: b.max_connections_per_s,
        tls: b.tls && { port: b.tls.port, cert: b.tls.cert, key: b.tls.key, ca: b.tls.ca, requireClientCert: b.tls.require_client_cert },
        plain: b.plain,
        logger: logger.child({ part: 'broker' }),
      });
      this.brokerClose = broker.close;
      this.brokerRefused = broker.refused;
      this.mqttUrl = broker.url;
      this.mqttTlsUrl = broker.tlsUrl;
      logger.info({ url: broker.url, tlsUrl: broker.tlsUrl }, 'no mqtt.url configured: embedded MQTT broker started');
    } else this.mqttUrl = mqttConfig.url;
    const tls = mqttConfig.tls ?? (!mqttConfig.url && mqttConfig.broker.plain === false && mqttConfig.broker.tls?.ca ? { ca: mqttConfig.broker.tls.ca, reject_unauthorized: true } : undefined);
    this.mqtt = new MqttAdapter(
      {
        url: this.mqttUrl,
        clientId,
        username,
        password,
        tls: tls && { ca: tls.ca, cert: 'cert' in tls ? tls.cert : undefined, key: 'key' in tls ? tls.key : undefined, rejectUnauthorized: tls.reject_unauthorized },
        sitePrefix: this.sitePrefix,
        reconnect: { minMs: mqttConfig.reconnect.min_ms, maxMs: mqttConfig.reconnect.max_ms },
      },
      site.rooms.flatMap((r) => r.devices).filter((d) => d.mqtt),
      this.state,
      this.bus,
      this.clock,
      logger.child({ part: 'mqtt' }),
    );
    this.adapters.push(this.mqtt);
    this.engine = new Engine({ site, state: this.state, writer: this.commands, bus: this.bus, clock: this.clock, schedule: this.schedule, dataDir: this.dataDir, logger, publisher: this.mqtt, sitePrefix: this.sitePrefix, settings: this.options.engine });
    this.api = new ApiServer({ deps: this, config: { ...site.config.api, ...this.options.api }, logger, plugins: [webPages] });
    const features: Feature[] = [
      ...devices(this.mqttUrl, this.logins),
      this.recorder,
      { name: 'room state', start: () => this.state.start(), stop: () => this.state.stop() },
      { name: 'mqtt', start: () => this.mqtt.start(), stop: () => this.mqtt.stop() },
      { name: 'modbus', start: () => this.modbus.start(), stop: () => this.modbus.stop() },
      new StatePublisher(site, this.state, this.bus, this.clock, this.mqtt, this.sitePrefix),
      { name: 'schedule', start: () => void this.schedule.load(), stop: () => {} },
      this.engine,
      (this.calendar = new CalendarFeeds({ site, schedule: this.schedule, alerts: this.engine.alerts, clock: this.clock, logger })),
      new HomeAssistantDiscovery({ site, mqtt: this.mqtt, sitePrefix: this.sitePrefix, logger }),
      this.api,
      ...extra,
    ];
    for (const f of features) {
      await f.start();
      this.started.push(f);
    }
  }

  async stop(): Promise<void> {
    const { logger } = this.options;
    for (const f of this.started.reverse()) {
      try {
        logger.debug(`stopping ${f.name}`);
        await f.stop();
      } catch (err) {
        logger.warn({ err, feature: f.name }, 'stopping a feature failed; continuing shutdown');
      }
    }
    this.started = [];
    await this.brokerClose?.();
    this.brokerClose = undefined;
  }
}
