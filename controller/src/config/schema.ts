import { z } from 'zod';
import { policyFields } from './policy-schema.ts';
import { simulationSchema } from './simulation-schema.ts';

/** The site configuration file (YAML). Every object is strict: a typo is an error. */
const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'letters, digits, "-" and "_" only');
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time as HH:MM');
const month = z.number().int().min(1).max(12);
const port = z.number().int().min(1).max(65535);

const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'not a known IANA time zone (e.g. Asia/Shanghai)');

export const siteSchema = z.strictObject({
  id,
  name: z.string().min(1),
  timezone,
  /** Months of each season; months in neither are "transition" (P5). */
  seasons: z.strictObject({ summer: z.array(month).default([6, 7, 8, 9]), winter: z.array(month).default([12, 1, 2, 3]) }).prefault({}),
  /** ISO weekdays (1 = Monday) on which the daily routines run. */
  working_days: z.array(z.number().int().min(1).max(7)).default([1, 2, 3, 4, 5]),
  routines: z
    .strictObject({
      /** P1: daily opening. */
      opening: hhmm.default('08:00'),
      /** P8: end-of-day sweep. */
      end_of_day: hhmm.default('18:30'),
      /** P9: weekly equipment self-test (ISO weekday + time). */
      weekly_selftest: z.strictObject({ day: z.number().int().min(1).max(7), time: hhmm }).default({ day: 6, time: '10:00' }),
    })
    .prefault({}),
  /** Wall panel default language. */
  language: z.enum(['zh-CN', 'en']).default('zh-CN'),
});

const topicFilter = z.string().min(1).regex(/^[^\u0000]+$/, 'an MQTT topic or filter');
const filePath = z.string().min(1);

/**
 * A login of the embedded broker (issue 11): a device, a gateway that fronts several
 * devices, a wall keypad, or an integration (Node-RED, Home Assistant). Its permissions
 * are derived from what it is for, never "everything".
 */
export const brokerUserSchema = z
  .strictObject({
    username: z.string().min(1).regex(/^[^\s:]+$/, 'no spaces or ":" in a username'),
    /** The password itself, normally `${ENV_VAR}` … */
    password: z.string().min(1).optional(),
    /** … or its hash, from `roomctl mqtt-password` (scrypt$N$r$p$salt$hash, base64). */
    password_hash: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'scrypt$N$r$p$salt$hash').optional(),
    /** Devices this login speaks for, as `room/device` (e.g. 3F-301/lights): it publishes their state topics and subscribes to their command topics only. */
    devices: z.array(z.string().regex(/^[^/\s]+\/[a-z][a-z0-9_]*$/, 'room/device, e.g. 3F-301/lights')).default([]),
    /** Rooms whose wall keypad this is: it may publish their `scene/set` (and read their scene result). */
    keypads: z.array(id).default([]),
    /** Node-RED / Home Assistant: reads roomctl's topics and discovery, asks for scenes in any room. */
    integrations: z.boolean().default(false),
    /** Extra topics or filters (e.g. a zigbee2mqtt bridge's own topics). */
    publish: z.array(topicFilter).default([]),
    subscribe: z.array(topicFilter).default([]),
  })
  .refine((u) => !!u.password !== !!u.password_hash, 'give exactly one of password or password_hash');

export const mqttTlsClientSchema = z.strictObject({
  /** CA file that signed the broker's certificate (default: the system CAs). */
  ca: filePath.optional(),
  /** Client certificate and key, for brokers that require them. */
  cert: filePath.optional(),
  key: filePath.optional(),
  reject_unauthorized: z.boolean().default(true),
});

export const mqttSchema = z.strictObject({
  /** Absent → roomctl starts its embedded broker and uses it. */
  url: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, 'an MQTT URL such as mqtt://host:1883').optional(),
  client_id: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  /** TLS settings of roomctl's connection (mqtts:// or wss://). */
  tls: mqttTlsClientSchema.optional(),
  /** Prefix of everything roomctl publishes: <prefix>/<site>/… */
  topic_prefix: z.string().default('roomctl'),
  /** The embedded broker (used only without url). */
  broker: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: port.default(1883),
      // The keys below are optional (defaults applied where used: 256 KiB packets, 2000
      // retained per login, 100,000 in all, 200 connections/s per address, plain on).
      /** Logins of devices, gateways, keypads and integrations; anonymous clients are refused. */
      users: z.array(brokerUserSchema).optional(),
      /** Only for a broker on loopback in a lab: clients without credentials get in (validate refuses it beyond loopback). */
      allow_anonymous: z.boolean().optional(),
      /** A packet larger than this closes the connection before it is buffered. */
      max_packet_bytes: z.number().int().min(1024).max(256 * 1024 * 1024).optional(),
      /** Retained topics one login may hold, and all logins together. */
      max_retained_per_client: z.number().int().min(1).optional(),
      max_retained_total: z.number().int().min(1).optional(),
      /** New connections accepted per second from one address. */
      max_connections_per_s: z.number().int().min(1).optional(),
      /** TLS listener (mqtts) beside the plain one. */
      tls: z.strictObject({ port: port.default(8883), cert: filePath, key: filePath, ca: filePath.optional(), require_client_cert: z.boolean().default(false) }).optional(),
      /** false: no plain-TCP listener, TLS only. */
      plain: z.boolean().optional(),
    })
    .prefault({}),
  /** Reconnect backoff: capped exponential from min to max (the ceiling), full jitter. */
  reconnect: z.strictObject({ min_ms: z.number().int().min(50).default(1000), max_ms: z.number().int().min(100).default(60000) }).prefault({}),
});

const serialSettings = z.strictObject({
  path: z.string(),
  baud_rate: z.number().int().positive().default(9600),
  parity: z.enum(['none', 'even', 'odd']).default('none'),
  data_bits: z.union([z.literal(7), z.literal(8)]).default(8),
  stop_bits: z.union([z.literal(1), z.literal(2)]).default(1),
});

export const gatewaySchema = z
  .strictObject({
    id,
    tcp: z.strictObject({ host: z.string(), port: port.default(502) }).optional(),
    rtu: serialSettings.optional(),
    /** Per-request timeout; a dead unit costs at most this, then the queue moves on. */
    timeout_ms: z.number().int().min(50).max(30000).default(1000),
    /** Immediate repeats of a request that timed out, before the poll counts as a miss (a unit's own setting wins). */
    retries: z.number().int().min(0).max(5).optional(),
    /** Misses in a row before a unit behind this gateway is reported offline (default 2). */
    offline_after: z.number().int().min(1).max(20).optional(),
    /** Pause after each answer before the next request: per-gateway pacing for gateways that drop back-to-back frames. */
    request_gap_ms: z.number().int().min(0).max(5000).optional(),
  })
  .refine((g) => !!g.tcp !== !!g.rtu, 'a gateway needs exactly one of tcp or rtu');

export const modbusSchema = z.strictObject({ gateways: z.array(gatewaySchema).default([]) });

export const influxSchema = z.strictObject({
  /** Absent → the recorder keeps everything in its spool and says so. */
  url: z.string().url().optional(),
  database: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "-" and "_" only').default('roomctl'),
  username: z.string().optional(),
  password: z.string().optional(),
  /** Where points wait while InfluxDB is away (default: the service's data directory). */
  spool_dir: z.string().optional(),
  /** Spool size bound; a warning and an alert at 80 %, an exact dropped count past it. */
  spool_max_mb: z.number().positive().default(512),
  /** A flat telemetry line still gets one sample per point this often. */
  sample_every_s: z.number().int().min(1).max(3600).default(60),
  /** A batch is sent at batch_size points or after flush_interval_ms, whichever first. */
  batch_size: z.number().int().min(1).max(100000).default(5000),
  flush_interval_ms: z.number().int().min(10).max(60000).default(1000),
  /** Per-request timeout against InfluxDB. */
  timeout_ms: z.number().int().min(100).max(120000).default(10000),
  /** Retention: raw telemetry and device health vs readiness/meeting/event and 5-minute means. */
  retention: z.strictObject({ raw_days: z.number().int().min(1).default(30), long_days: z.number().int().min(1).default(400) }).prefault({}),
});

/** The HTTP API, its WebSocket and the web pages (`roomctl start` serves them). */
export const apiSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Loopback by default: exposing the API to the building network is a decision, not an accident. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 = a free port chosen at start (tests). */
  port: z.number().int().min(0).max(65535).default(8080),
  /** HTTPS from these files (PEM); without them the API speaks plain HTTP (validate warns beyond loopback). */
  tls: z.strictObject({ cert: filePath, key: filePath }).optional(),
});

export const deviceSchema = z
  .strictObject({
    /** Prefix of the device's points in the room: `hvac` → `hvac.temperature`. */
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'lowercase letters, digits and "_", starting with a letter'),
    profile: z.string(),
    mqtt: z.strictObject({ base: z.string().min(1).regex(/^[^#+\u0000]+$/, 'no wildcards in a base topic') }).optional(),
    modbus: z
      .strictObject({
        /** Either a gateway id from modbus.gateways … */
        gateway: z.string().optional(),
        /** … or a Modbus TCP host/port directly. */
        host: z.string().optional(),
        port: port.optional(),
        unit: z.number().int().min(0).max(247),
        poll_ms: z.number().int().min(100).optional(),
        /** This unit's request timeout, retries and misses before offline; default the gateway's (host: 1000 ms, 0, 2). */
        timeout_ms: z.number().int().min(50).max(30000).optional(),
        retries: z.number().int().min(0).max(5).optional(),
        offline_after: z.number().int().min(1).max(20).optional(),
      })
      .refine((m) => !!m.gateway !== !!m.host, 'give either gateway or host')
      .optional(),
    /** Channel counts/names for the profile's channels, e.g. { mic: 6 } or { zone: [main, board] }. */
    channels: z.record(z.string(), z.union([z.number().int().min(1).max(256), z.array(z.string().regex(/^[a-z0-9_]+$/)).min(1)])).optional(),
    /** Readiness requires this device online (default yes). */
    required: z.boolean().default(true),
    /**
     * Fire-alarm devices only: the rooms whose doors this alarm input covers. Default
     * `site`: an alarm anywhere stops every lock in the building (safety first); a
     * zone input lists its rooms, e.g. [3F-301, 3F-302].
     */
    covers: z.union([z.literal('site'), z.array(id).min(1)]).optional(),
  })
  .refine((d) => !(d.mqtt && d.modbus), 'a device has either an mqtt or a modbus address, not both');

export const sceneStepSchema = z.union([
  z.strictObject({ set: z.string(), value: z.union([z.number(), z.boolean(), z.string()]) }),
  z.strictObject({ wait_ms: z.number().int().min(0).max(600000) }),
]);

export const sceneSchema = z.strictObject({
  label: z.strictObject({ en: z.string().optional(), 'zh-CN': z.string().optional() }).optional(),
  /** A scene never touches door locks unless it says so. */
  allow_locks: z.boolean().default(false),
  steps: z.array(sceneStepSchema).min(1),
});

/**
 * Calendar feeds (issue 7, P13): a room may name an iCalendar URL (Exchange, Google,
 * CalDAV) that is polled for its bookings; `calendar:` at the top level holds the
 * site's defaults. Secrets go in URLs/headers as ${VAR}.
 */
const meetingLevel = z.enum(['normal', 'vip3', 'vip2', 'vip1']);
export const calendarLevelSchema = z.strictObject({
  /** CATEGORIES value → level, case-insensitive, e.g. { VIP1: vip1 }; the highest level found wins. */
  categories: z.record(z.string().min(1), meetingLevel).optional(),
  /** An X- property whose value is a level name or one of the categories keys; it wins over CATEGORIES. */
  property: z.string().regex(/^X-[A-Za-z0-9-]+$/i, 'an X- property name such as X-ROOMCTL-LEVEL').optional(),
});
export const calendarDefaultsSchema = z.strictObject({
  poll_s: z.number().int().min(10).max(86400).default(60),
  /** Recurring meetings are expanded this far ahead. */
  horizon_days: z.number().int().min(1).max(90).default(14),
  timeout_s: z.number().int().min(1).max(300).default(30),
  /** A feed failing this many polls in a row raises its alert. */
  alert_after_failures: z.number().int().min(1).max(100).default(2),
  level_from: calendarLevelSchema.optional(),
});
export const roomCalendarSchema = z.strictObject({
  url: z.string().regex(/^(https?|webcal):\/\/\S+$/i, 'an http(s):// or webcal:// URL of an iCalendar feed'),
  poll_s: z.number().int().min(10).max(86400).optional(),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name'), z.string()).optional(),
  level_from: calendarLevelSchema.optional(),
});

/** Home Assistant MQTT discovery (issue 7): off unless enabled. */
export const homeAssistantSchema = z.strictObject({
  enabled: z.boolean().default(false),
  discovery_prefix: z.string().regex(/^[^#+\s]+$/, 'an MQTT topic prefix without wildcards').default('homeassistant'),
});

export const roomSchema = z.strictObject({
  id,
  name: z.string().min(1),
  floor: z.union([z.string(), z.number()]).optional(),
  capacity: z.number().int().positive(),
  policy: z.string().default('default'),
  devices: z.array(deviceSchema).default([]),
  scenes: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), sceneSchema).default({}),
  calendar: roomCalendarSchema.optional(),
});

export const configSchema = z.strictObject({
  site: siteSchema,
  mqtt: mqttSchema.prefault({}),
  modbus: modbusSchema.prefault({}),
  influx: influxSchema.optional(),
  api: apiSchema.prefault({}),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).prefault({}),
  policies: z.record(z.string(), policyFields).default({}),
  simulation: simulationSchema.optional(),
  calendar: calendarDefaultsSchema.prefault({}),
  home_assistant: homeAssistantSchema.prefault({}),
  /**
   * The site's data folder (schedule, records, alerts, tokens, learned rates, spool), relative
   * to this file; default ~/.local/state/roomctl/sites/<site id> ($XDG_STATE_HOME). `--data-dir` wins.
   */
  data_dir: z.string().min(1).optional(),
  /** The site's own device profiles, searched after the built-in ones; relative to this config file. */
  profiles_dir: z.string().min(1).optional(),
  /** Each room is validated on its own (roomSchema), so one bad room can be skipped at start. */
  rooms: z.array(z.unknown()).min(1, 'at least one room'),
});

export type SiteConfigInput = z.input<typeof configSchema>;
export type SiteConfig = Omit<z.infer<typeof configSchema>, 'rooms'> & { rooms: RoomConfig[] };
export type RoomConfig = z.infer<typeof roomSchema>;
export type DeviceConfig = z.infer<typeof deviceSchema>;
export type GatewayConfig = z.infer<typeof gatewaySchema>;
export type InfluxConfig = z.infer<typeof influxSchema>;
export type ApiConfig = z.infer<typeof apiSchema>;
export type MqttConfig = z.infer<typeof mqttSchema>;
export type BrokerUserConfig = z.infer<typeof brokerUserSchema>;
export type SceneConfig = z.infer<typeof sceneSchema>;
