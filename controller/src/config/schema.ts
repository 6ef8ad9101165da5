import { z } from 'zod';
import { policyFields } from './policy-schema.ts';
import { simulationSchema } from './simulation-schema.ts';

/**
 * The site configuration file (YAML). Every object is strict: a typo is an error.
 * Each key's description, procedure id (P1…P16) and documented default live in its
 * `.meta()`: docs/configuration.md is generated from them (`npm run docs:config`).
 */
const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'letters, digits, "-" and "_" only');
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time as HH:MM').meta({ type: 'time HH:MM' });
const month = z.number().int().min(1).max(12);
const port = z.number().int().min(1).max(65535);

const timezone = z
  .string()
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'not a known IANA time zone (e.g. Asia/Shanghai)')
  .meta({ type: 'IANA time zone, e.g. Asia/Shanghai' });

export const siteSchema = z
  .strictObject({
    id: id.meta({ description: 'Short id of the site; part of every MQTT topic (<prefix>/<site>/…) and of the data folder.' }),
    name: z.string().min(1).meta({ description: 'The building’s name, shown on the overview page and the demo table.' }),
    timezone: timezone.meta({ description: 'The building’s time zone: meeting times, routines and seasons are local time here.' }),
    seasons: z
      .strictObject({
        summer: z.array(month).default([6, 7, 8, 9]).meta({ description: 'Months (1–12) of the summer comfort band.' }),
        winter: z.array(month).default([12, 1, 2, 3]).meta({ description: 'Months (1–12) of the winter comfort band.' }),
      })
      .prefault({})
      .meta({ description: 'Months of each season; months in neither are "transition".', procedure: 'P5' }),
    working_days: z
      .array(z.number().int().min(1).max(7))
      .default([1, 2, 3, 4, 5])
      .meta({ description: 'ISO weekdays (1 = Monday) on which the daily routines run.', procedure: 'P1, P8' }),
    routines: z
      .strictObject({
        opening: hhmm.default('08:00').meta({ description: 'Daily opening: doors unlocked, a low "open" light level, boilers on.', procedure: 'P1' }),
        end_of_day: hhmm.default('18:30').meta({ description: 'End-of-day sweep: everything off, closed and locked in every room not in use.', procedure: 'P8' }),
        weekly_selftest: z
          .strictObject({
            day: z.number().int().min(1).max(7).meta({ description: 'ISO weekday (1 = Monday, 6 = Saturday).' }),
            time: hhmm.meta({ description: 'Local time of day.' }),
          })
          .default({ day: 6, time: '10:00' })
          .meta({ description: 'Weekly equipment self-test (every mic, display, DSP) of every room outside meeting hours.', procedure: 'P9' }),
      })
      .prefault({})
      .meta({ description: 'When the site-wide routines run (local time, on working days).' }),
    language: z.enum(['zh-CN', 'en']).default('zh-CN').meta({ description: 'Wall panel default language.' }),
  })
  .meta({ description: 'The building or campus: its id, name, time zone, season calendar and daily routines.' });

const topicFilter = z.string().min(1).regex(/^[^\u0000]+$/, 'an MQTT topic or filter');
const filePath = z.string().min(1).meta({ type: 'file path' });

// A login of the embedded broker (issue 11): its permissions are derived from what it
// is for, never "everything".
export const brokerUserSchema = z
  .strictObject({
    username: z.string().min(1).regex(/^[^\s:]+$/, 'no spaces or ":" in a username').meta({ description: 'The login’s username.' }),
    password: z.string().min(1).optional().meta({ description: 'The password itself, normally `${ENV_VAR}` …' }),
    password_hash: z
      .string()
      .regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'scrypt$N$r$p$salt$hash')
      .optional()
      .meta({ description: '… or its hash, from `roomctl mqtt-password` (scrypt$N$r$p$salt$hash, base64).' }),
    devices: z
      .array(z.string().regex(/^[^/\s]+\/[a-z][a-z0-9_]*$/, 'room/device, e.g. 3F-301/lights'))
      .default([])
      .meta({ description: 'Devices this login speaks for, as `room/device` (e.g. 3F-301/lights): it publishes their state topics and subscribes to their command topics only.' }),
    keypads: z.array(id).default([]).meta({ description: 'Rooms whose wall keypad this is: it may publish their `scene/set` (and read their scene result).' }),
    integrations: z.boolean().default(false).meta({ description: 'Node-RED / Home Assistant: reads roomctl’s topics and discovery, asks for scenes in any room.' }),
    publish: z.array(topicFilter).default([]).meta({ description: 'Extra topics or filters it may publish (e.g. a zigbee2mqtt bridge’s own topics).' }),
    subscribe: z.array(topicFilter).default([]).meta({ description: 'Extra topics or filters it may subscribe to.' }),
  })
  .refine((u) => !!u.password !== !!u.password_hash, 'give exactly one of password or password_hash')
  .meta({ description: 'A login of the embedded broker: a device, a gateway that fronts several devices, a wall keypad, or an integration (Node-RED, Home Assistant).' });

export const mqttTlsClientSchema = z.strictObject({
  ca: filePath.optional().meta({ description: 'CA file that signed the broker’s certificate.', defaultText: 'the system CAs' }),
  cert: filePath.optional().meta({ description: 'Client certificate, for brokers that require one.' }),
  key: filePath.optional().meta({ description: 'The client certificate’s key.' }),
  reject_unauthorized: z.boolean().default(true).meta({ description: 'Refuse a broker whose certificate does not verify.' }),
});

export const mqttSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^(mqtts?|wss?|tcp):\/\//, 'an MQTT URL such as mqtt://host:1883')
      .optional()
      .meta({ description: 'The site’s MQTT broker. Absent → roomctl starts its embedded broker and uses it.' }),
    client_id: z.string().optional().meta({ description: 'roomctl’s MQTT client id.', defaultText: '`roomctl-<site id>`' }),
    username: z.string().optional().meta({ description: 'roomctl’s login at the broker.' }),
    password: z.string().optional().meta({ description: 'Its password, normally `${MQTT_PASSWORD}`.' }),
    tls: mqttTlsClientSchema.optional().meta({ description: 'TLS settings of roomctl’s connection (mqtts:// or wss://).' }),
    topic_prefix: z.string().default('roomctl').meta({ description: 'Prefix of everything roomctl publishes: <prefix>/<site>/…' }),
    broker: z
      .strictObject({
        host: z.string().default('127.0.0.1').meta({ description: 'Address the embedded broker listens on.' }),
        port: port.default(1883).meta({ description: 'Its plain-TCP port.' }),
        // The keys below are optional (their defaults are applied where used).
        users: z.array(brokerUserSchema).optional().meta({ description: 'Logins of devices, gateways, keypads and integrations; anonymous clients are refused.' }),
        allow_anonymous: z
          .boolean()
          .optional()
          .meta({ description: 'Only for a broker on loopback in a lab: clients without credentials get in (validate refuses it beyond loopback).', defaultText: '`false`' }),
        max_packet_bytes: z
          .number()
          .int()
          .min(1024)
          .max(256 * 1024 * 1024)
          .optional()
          .meta({ description: 'A packet larger than this closes the connection before it is buffered.', defaultText: '`262144` (256 KiB)' }),
        max_retained_per_client: z.number().int().min(1).optional().meta({ description: 'Retained topics one login may hold.', defaultText: '`2000`' }),
        max_retained_total: z.number().int().min(1).optional().meta({ description: 'Retained topics all logins together may hold.', defaultText: '`100000`' }),
        max_connections_per_s: z.number().int().min(1).optional().meta({ description: 'New connections accepted per second from one address.', defaultText: '`200`' }),
        tls: z
          .strictObject({
            port: port.default(8883).meta({ description: 'Port of the TLS listener.' }),
            cert: filePath.meta({ description: 'The broker’s certificate (PEM).' }),
            key: filePath.meta({ description: 'Its key (PEM).' }),
            ca: filePath.optional().meta({ description: 'CA that signs client certificates.' }),
            require_client_cert: z.boolean().default(false).meta({ description: 'Refuse clients without a certificate signed by `ca`.' }),
          })
          .optional()
          .meta({ description: 'TLS listener (mqtts) beside the plain one.' }),
        plain: z.boolean().optional().meta({ description: 'false: no plain-TCP listener, TLS only.', defaultText: '`true`' }),
      })
      .prefault({})
      .meta({ description: 'The embedded broker (used only without url).' }),
    reconnect: z
      .strictObject({
        min_ms: z.number().int().min(50).default(1000).meta({ description: 'First wait before reconnecting.' }),
        max_ms: z.number().int().min(100).default(60000).meta({ description: 'The ceiling of the wait.' }),
      })
      .prefault({})
      .meta({ description: 'Reconnect backoff: capped exponential from min to max (the ceiling), full jitter.' }),
  })
  .meta({ description: 'The MQTT connection: to the site’s broker, or to the embedded one that roomctl runs when no url is given.' });

const serialSettings = z.strictObject({
  path: z.string().meta({ description: 'Serial device, e.g. /dev/ttyUSB0.' }),
  baud_rate: z.number().int().positive().default(9600).meta({ description: 'Line speed.' }),
  parity: z.enum(['none', 'even', 'odd']).default('none').meta({ description: 'Parity bit.' }),
  data_bits: z.union([z.literal(7), z.literal(8)]).default(8).meta({ description: 'Data bits per character.' }),
  stop_bits: z.union([z.literal(1), z.literal(2)]).default(1).meta({ description: 'Stop bits per character.' }),
});

export const gatewaySchema = z
  .strictObject({
    id: id.meta({ description: 'The gateway’s id, named by devices as `modbus.gateway`.' }),
    tcp: z
      .strictObject({ host: z.string().meta({ description: 'Host name or address.' }), port: port.default(502).meta({ description: 'Modbus TCP port.' }) })
      .optional()
      .meta({ description: 'A Modbus TCP gateway.' }),
    rtu: serialSettings.optional().meta({ description: 'A Modbus RTU line on a serial port.' }),
    timeout_ms: z.number().int().min(50).max(30000).default(1000).meta({ description: 'Per-request timeout; a dead unit costs at most this, then the queue moves on.' }),
    retries: z
      .number()
      .int()
      .min(0)
      .max(5)
      .optional()
      .meta({ description: 'Immediate repeats of a request that timed out, before the poll counts as a miss (a unit’s own setting wins).', defaultText: '`0`' }),
    offline_after: z.number().int().min(1).max(20).optional().meta({ description: 'Misses in a row before a unit behind this gateway is reported offline.', defaultText: '`2`' }),
    request_gap_ms: z
      .number()
      .int()
      .min(0)
      .max(5000)
      .optional()
      .meta({ description: 'Pause after each answer before the next request: per-gateway pacing for gateways that drop back-to-back frames.', defaultText: 'no pause' }),
  })
  .refine((g) => !!g.tcp !== !!g.rtu, 'a gateway needs exactly one of tcp or rtu')
  .meta({ description: 'A Modbus gateway (TCP, or an RTU serial line) in front of one or more units.' });

export const modbusSchema = z
  .strictObject({ gateways: z.array(gatewaySchema).default([]).meta({ description: 'The site’s Modbus gateways.' }) })
  .meta({ description: 'Modbus gateways, shared by the devices behind them (a device may also name a TCP host directly).' });

export const influxSchema = z
  .strictObject({
    url: z.string().url().optional().meta({ description: 'InfluxDB’s HTTP address (v1 API). Absent → the recorder keeps everything in its spool and says so.' }),
    database: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "-" and "_" only').default('roomctl').meta({ description: 'Database written to.' }),
    username: z.string().optional().meta({ description: 'InfluxDB login.' }),
    password: z.string().optional().meta({ description: 'Its password, normally `${INFLUX_PASSWORD}`.' }),
    spool_dir: z.string().optional().meta({ description: 'Where points wait while InfluxDB is away.', defaultText: 'the service’s data directory' }),
    spool_max_mb: z.number().positive().default(512).meta({ description: 'Spool size bound; a warning and an alert at 80 %, an exact dropped count past it.' }),
    sample_every_s: z.number().int().min(1).max(3600).default(60).meta({ description: 'A flat telemetry line still gets one sample per point this often.' }),
    batch_size: z.number().int().min(1).max(100000).default(5000).meta({ description: 'A batch is sent at batch_size points or after flush_interval_ms, whichever first.' }),
    flush_interval_ms: z.number().int().min(10).max(60000).default(1000).meta({ description: 'The longest a point waits for its batch.' }),
    timeout_ms: z.number().int().min(100).max(120000).default(10000).meta({ description: 'Per-request timeout against InfluxDB.' }),
    retention: z
      .strictObject({
        raw_days: z.number().int().min(1).default(30).meta({ description: 'Raw telemetry and device health.' }),
        long_days: z.number().int().min(1).default(400).meta({ description: 'Readiness, meetings, events and 5-minute means.' }),
      })
      .prefault({})
      .meta({ description: 'Retention: raw telemetry and device health vs readiness/meeting/event and 5-minute means.' }),
  })
  .meta({ description: 'The recorder’s InfluxDB (1.x, or the v1-compatible API of 2.x/3.x). Without this section, or without its url, points go to the local spool only. Meeting titles and organizers are never written (P15).' });

export const apiSchema = z
  .strictObject({
    enabled: z.boolean().default(true).meta({ description: 'false: no HTTP API, WebSocket or pages.' }),
    host: z.string().min(1).default('127.0.0.1').meta({ description: 'Loopback by default: exposing the API to the building network is a decision, not an accident.' }),
    port: z.number().int().min(0).max(65535).default(8080).meta({ description: 'HTTP port; 0 = a free port chosen at start (tests).' }),
    tls: z
      .strictObject({ cert: filePath.meta({ description: 'Certificate (PEM).' }), key: filePath.meta({ description: 'Its key (PEM).' }) })
      .optional()
      .meta({ description: 'HTTPS from these files (PEM); without them the API speaks plain HTTP (validate warns beyond loopback).' }),
  })
  .meta({ description: 'The HTTP API, its WebSocket and the web pages (`roomctl start` serves them).' });

export const deviceSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'lowercase letters, digits and "_", starting with a letter')
      .meta({ description: 'Prefix of the device’s points in the room: `hvac` → `hvac.temperature`.' }),
    profile: z.string().meta({ description: 'Id of its device profile (devices/profiles/ or the site’s profiles_dir).' }),
    mqtt: z
      .strictObject({ base: z.string().min(1).regex(/^[^#+\u0000]+$/, 'no wildcards in a base topic').meta({ description: 'Base topic the profile’s topics are relative to.' }) })
      .optional()
      .meta({ description: 'Address of an MQTT device.' }),
    modbus: z
      .strictObject({
        gateway: z.string().optional().meta({ description: 'Either a gateway id from modbus.gateways …' }),
        host: z.string().optional().meta({ description: '… or a Modbus TCP host directly.' }),
        port: port.optional().meta({ description: 'Port of that host.', defaultText: '`502`' }),
        unit: z.number().int().min(0).max(247).meta({ description: 'Modbus unit id (slave address).' }),
        poll_ms: z.number().int().min(100).optional().meta({ description: 'Poll period.', defaultText: 'the profile’s poll_ms (5000)' }),
        timeout_ms: z.number().int().min(50).max(30000).optional().meta({ description: 'This unit’s request timeout.', defaultText: 'the gateway’s (host: 1000)' }),
        retries: z.number().int().min(0).max(5).optional().meta({ description: 'This unit’s immediate repeats of a timed-out request.', defaultText: 'the gateway’s (host: 0)' }),
        offline_after: z.number().int().min(1).max(20).optional().meta({ description: 'This unit’s misses in a row before offline.', defaultText: 'the gateway’s (host: 2)' }),
      })
      .refine((m) => !!m.gateway !== !!m.host, 'give either gateway or host')
      .optional()
      .meta({ description: 'Address of a Modbus device.' }),
    channels: z
      .record(z.string(), z.union([z.number().int().min(1).max(256), z.array(z.string().regex(/^[a-z0-9_]+$/)).min(1)]))
      .optional()
      .meta({ description: 'Channel counts/names for the profile’s channels, e.g. { mic: 6 } or { zone: [main, board] }.', key: 'channel' }),
    required: z.boolean().default(true).meta({ description: 'Readiness requires this device online; a required device that drops off is alerted.', procedure: 'P14' }),
    covers: z
      .union([z.literal('site'), z.array(id).min(1)])
      .optional()
      .meta({
        description: 'Fire-alarm devices only: the rooms whose doors this alarm input covers. `site`: an alarm anywhere stops every lock in the building (safety first); a zone input lists its rooms, e.g. [3F-301, 3F-302].',
        defaultText: '`site`',
      }),
  })
  .refine((d) => !(d.mqtt && d.modbus), 'a device has either an mqtt or a modbus address, not both')
  .meta({ section: 'devices', description: 'A room’s devices: each is a device profile plus its address (an MQTT base topic, or a Modbus gateway or host and unit). Its points are then `<name>.<point>`, e.g. `hvac.setpoint`.' });

export const sceneStepSchema = z
  .union([
    z.strictObject({
      set: z.string().meta({ description: 'A writable point of the room, e.g. `lights.main.level`.' }),
      value: z.union([z.number(), z.boolean(), z.string()]).meta({ description: 'The value written to it.' }),
    }),
    z.strictObject({ wait_ms: z.number().int().min(0).max(600000).meta({ description: 'A pause between writes.' }) }),
  ])
  .meta({ description: 'Each step either sets a point (`set` and `value`) or waits (`wait_ms`).' });

export const sceneSchema = z.strictObject({
  label: z
    .strictObject({ en: z.string().optional().meta({ description: 'English label.' }), 'zh-CN': z.string().optional().meta({ description: 'Chinese label.' }) })
    .optional()
    .meta({ description: 'The scene’s name on the wall panel, per language.', defaultText: 'the scene’s key' }),
  allow_locks: z.boolean().default(false).meta({ description: 'A scene never touches door locks unless it says so.' }),
  steps: z.array(sceneStepSchema).min(1).meta({ description: 'The point writes and waits, in order.' }),
});

// Calendar feeds (issue 7): secrets go in URLs/headers as ${VAR}.
const meetingLevel = z.enum(['normal', 'vip3', 'vip2', 'vip1']);
export const calendarLevelSchema = z
  .strictObject({
    categories: z
      .record(z.string().min(1), meetingLevel)
      .optional()
      .meta({ description: 'CATEGORIES value → level, case-insensitive, e.g. { VIP1: vip1 }; the highest level found wins.', key: 'category' }),
    property: z
      .string()
      .regex(/^X-[A-Za-z0-9-]+$/i, 'an X- property name such as X-ROOMCTL-LEVEL')
      .optional()
      .meta({ description: 'An X- property whose value is a level name or one of the categories keys; it wins over CATEGORIES.' }),
  })
  .meta({ description: 'How a feed’s events say their meeting level (normal, vip3, vip2, vip1).' });
export const calendarDefaultsSchema = z
  .strictObject({
    poll_s: z.number().int().min(10).max(86400).default(60).meta({ description: 'Feeds are polled this often (with ETag).' }),
    horizon_days: z.number().int().min(1).max(90).default(14).meta({ description: 'Recurring meetings are expanded this far ahead.' }),
    timeout_s: z.number().int().min(1).max(300).default(30).meta({ description: 'Per-request timeout of a poll.' }),
    alert_after_failures: z.number().int().min(1).max(100).default(2).meta({ description: 'A feed failing this many polls in a row raises its alert.' }),
    level_from: calendarLevelSchema.optional(),
  })
  .meta({
    description: 'Calendar feeds: a room may name an iCalendar URL (Exchange, Google, CalDAV) that is polled for its bookings (`rooms[].calendar`); this section holds the site’s defaults. Secrets go in URLs and headers as ${VAR}.',
    procedure: 'P13',
  });
export const roomCalendarSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^(https?|webcal):\/\/\S+$/i, 'an http(s):// or webcal:// URL of an iCalendar feed')
      .meta({ description: 'The room’s iCalendar feed.' }),
    poll_s: z.number().int().min(10).max(86400).optional().meta({ description: 'This feed’s poll period.', defaultText: '`calendar.poll_s`' }),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name'), z.string())
      .optional()
      .meta({ description: 'HTTP headers sent with each poll (e.g. Authorization: Bearer ${FEED_TOKEN}).', key: 'header' }),
    level_from: calendarLevelSchema.optional().meta({ defaultText: '`calendar.level_from`' }),
  })
  .meta({ description: 'The room’s bookings from an iCalendar feed; a broken feed keeps the last good schedule and raises an alert.', procedure: 'P13' });

export const homeAssistantSchema = z
  .strictObject({
    enabled: z.boolean().default(false).meta({ description: 'Publish Home Assistant discovery topics for the rooms and their devices.' }),
    discovery_prefix: z
      .string()
      .regex(/^[^#+\s]+$/, 'an MQTT topic prefix without wildcards')
      .default('homeassistant')
      .meta({ description: 'Home Assistant’s discovery prefix.' }),
  })
  .meta({ description: 'Home Assistant MQTT discovery: off unless enabled.' });

export const roomSchema = z
  .strictObject({
    id: id.meta({ description: 'The room’s id, e.g. `3F-301`: in topics, URLs and records.' }),
    name: z.string().min(1).meta({ description: 'Its name on pages and panels.' }),
    floor: z.union([z.string(), z.number()]).optional().meta({ description: 'Floor, for grouping on the overview.' }),
    capacity: z.number().int().positive().meta({ description: 'Seats; a room half full gets more fresh air (P16).' }),
    policy: z.string().default('default').meta({ description: 'The policy (`policies.<policy>`) whose conditions and lead times the room must meet.' }),
    devices: z.array(deviceSchema).default([]),
    scenes: z
      .record(z.string().regex(/^[a-z][a-z0-9_-]*$/), sceneSchema)
      .default({})
      .meta({
        section: 'scenes',
        key: 'scene',
        description: 'A room’s scenes: named sets of point writes, with order and waits, triggered by a wall panel or keypad, the API or a step (the policy’s `meeting_scene` at T-15).',
      }),
    calendar: roomCalendarSchema.optional(),
  })
  .meta({ description: 'The meeting rooms: each with its devices, scenes and policy. Each room is validated on its own, so one bad room is reported and skipped at start while the others run.' });

export const configSchema = z.strictObject({
  site: siteSchema,
  mqtt: mqttSchema.prefault({}),
  modbus: modbusSchema.prefault({}),
  influx: influxSchema.optional(),
  api: apiSchema.prefault({}),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').meta({ description: 'Least severe level written.' }) })
    .prefault({})
    .meta({ description: 'The service’s log. Meeting titles and organizers are never logged (P15).' }),
  policies: z.record(z.string(), policyFields).default({}).meta({ key: 'policy' }),
  simulation: simulationSchema.optional(),
  calendar: calendarDefaultsSchema.prefault({}),
  home_assistant: homeAssistantSchema.prefault({}),
  data_dir: z
    .string()
    .min(1)
    .optional()
    .meta({
      description: 'The site’s data folder (schedule, records, alerts, tokens, learned rates, spool), relative to this file; `--data-dir` wins.',
      defaultText: '~/.local/state/roomctl/sites/<site id> ($XDG_STATE_HOME)',
    }),
  profiles_dir: z.string().min(1).optional().meta({ description: 'The site’s own device profiles, searched after the built-in ones; relative to this config file.' }),
  // Each room is validated on its own (roomSchema), so one bad room can be skipped at start.
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
