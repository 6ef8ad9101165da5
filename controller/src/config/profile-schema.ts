import { z } from 'zod';

/**
 * Device profiles are data (devices/profiles/*.yaml): a device model's points and
 * how each maps onto MQTT topics/JSON paths or Modbus registers. Placeholders in
 * point keys, topics and paths: `{base}` (the device's MQTT base topic), and the
 * profile's channel names (e.g. `{mic}`, `{zone}`), expanded per device.
 */
const scalar = z.union([z.number(), z.boolean(), z.string()]);

export const modbusPointMap = z.strictObject({
  table: z.enum(['holding', 'input', 'coil', 'discrete']),
  address: z.number().int().min(0).max(65535),
  /** Register encoding; ignored for coil/discrete tables (always bits). */
  type: z.enum(['int16', 'uint16', 'int32', 'uint32', 'float32']).default('uint16'),
  /** value = raw * scale + offset; writes invert it. */
  scale: z.number().refine((n) => n !== 0, 'scale must not be 0').default(1),
  offset: z.number().default(0),
  /** 32-bit word order; falls back to the profile's word_order. */
  word_order: z.enum(['big', 'little']).optional(),
  /** Raw register value → enum value, for `type: enum` points. */
  enum: z.record(z.string().regex(/^-?\d+$/, 'enum keys are raw register values'), z.string()).optional(),
});

export const mqttPointMap = z.strictObject({
  state: z
    .strictObject({
      topic: z.string().min(1),
      /** Dotted path into the JSON payload; absent = the payload itself. */
      path: z.string().optional(),
      format: z.enum(['json', 'raw']).default('json'),
    })
    .optional(),
  command: z
    .strictObject({
      topic: z.string().min(1),
      /** JSON template; the string "{value}" becomes the typed value. For raw format, a string template. */
      payload: z.unknown(),
      format: z.enum(['json', 'raw']).default('json'),
    })
    .optional(),
  /** Device value (as a string) → point value, e.g. { "ON": true, "OFF": false }. */
  map: z.record(z.string(), scalar).optional(),
});

export const pointSchema = z
  .strictObject({
    type: z.enum(['number', 'boolean', 'enum', 'string']),
    unit: z.string().optional(),
    description: z.string().optional(),
    writable: z.boolean().default(false),
    /** Range a device may report; a reading outside it is rejected as malformed. */
    min: z.number().optional(),
    max: z.number().optional(),
    /** Commands are clamped into this range (defaults to min/max). */
    safe: z.strictObject({ min: z.number(), max: z.number() }).optional(),
    values: z.array(z.string()).min(1).optional(),
    /** No update within this window → quality `stale`. */
    stale_after_s: z.number().positive(),
    modbus: modbusPointMap.optional(),
    mqtt: mqttPointMap.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.type === 'enum' && !p.values) ctx.addIssue({ code: 'custom', path: ['values'], message: 'an enum point needs values' });
    if (p.min !== undefined && p.max !== undefined && p.min > p.max)
      ctx.addIssue({ code: 'custom', path: ['min'], message: `min ${p.min} is above max ${p.max}` });
    if (p.safe && p.safe.min > p.safe.max)
      ctx.addIssue({ code: 'custom', path: ['safe', 'min'], message: `safe.min ${p.safe.min} is above safe.max ${p.safe.max}` });
    if (p.safe && p.type !== 'number') ctx.addIssue({ code: 'custom', path: ['safe'], message: 'only number points have safe limits' });
  });

export const channelSchema = z.strictObject({
  /** A count (channels 1..N) or a list of names. */
  default: z.union([z.number().int().min(1).max(256), z.array(z.string().regex(/^[a-z0-9_]+$/)).min(1)]),
  description: z.string().optional(),
});

export const profileSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
    name: z.string(),
    kind: z.enum(['hvac', 'fresh_air', 'lighting', 'audio', 'door', 'occupancy', 'display', 'boiler', 'window', 'air_quality', 'fire_alarm']),
    protocol: z.enum(['mqtt', 'modbus']),
    manufacturer: z.string().optional(),
    description: z.string().optional(),
    channels: z.record(z.string().regex(/^[a-z]+$/), channelSchema).optional(),
    /** Modbus: poll interval. */
    poll_ms: z.number().int().min(100).default(5000),
    word_order: z.enum(['big', 'little']).default('big'),
    /** MQTT: field added to every JSON command so a duplicate delivery is recognisable. */
    command_id_field: z.string().default('cmd_id'),
    /** MQTT: a device availability (LWT) topic. */
    availability: z
      .strictObject({ topic: z.string(), path: z.string().optional(), online: scalar, offline: scalar })
      .optional(),
    points: z.record(z.string().regex(/^[a-z0-9_{}.]+$/, 'point keys are lowercase, dots and {channel}'), pointSchema),
  })
  .superRefine((profile, ctx) => {
    const channels = new Set(Object.keys(profile.channels ?? {}));
    for (const [key, point] of Object.entries(profile.points)) {
      for (const m of key.matchAll(/\{([^}]+)\}/g)) {
        if (!channels.has(m[1]!)) ctx.addIssue({ code: 'custom', path: ['points', key], message: `uses channel {${m[1]}} that the profile does not declare` });
      }
      const map = profile.protocol === 'mqtt' ? point.mqtt : point.modbus;
      if (!map) {
        ctx.addIssue({ code: 'custom', path: ['points', key], message: `a ${profile.protocol} profile needs a ${profile.protocol} mapping on every point` });
        continue;
      }
      if (profile.protocol === 'mqtt') {
        const m = point.mqtt!;
        if (!m.state && !point.writable) ctx.addIssue({ code: 'custom', path: ['points', key, 'mqtt'], message: 'a read-only point needs mqtt.state' });
        if (point.writable && !m.command) ctx.addIssue({ code: 'custom', path: ['points', key, 'mqtt'], message: 'a writable point needs mqtt.command' });
      } else {
        const m = point.modbus!;
        if (key.includes('{')) ctx.addIssue({ code: 'custom', path: ['points', key], message: 'modbus points cannot use channels' });
        if (point.writable && (m.table === 'input' || m.table === 'discrete'))
          ctx.addIssue({ code: 'custom', path: ['points', key, 'modbus', 'table'], message: `${m.table} registers are read-only; a writable point needs holding or coil` });
        if ((m.table === 'coil' || m.table === 'discrete') && point.type !== 'boolean')
          ctx.addIssue({ code: 'custom', path: ['points', key, 'type'], message: `${m.table} points must be boolean` });
        if (point.type === 'enum' && !m.enum) ctx.addIssue({ code: 'custom', path: ['points', key, 'modbus', 'enum'], message: 'an enum point needs a raw → value map' });
      }
    }
  });

export type DeviceProfile = z.infer<typeof profileSchema>;
export type PointDef = z.infer<typeof pointSchema>;
export type ModbusPointMap = z.infer<typeof modbusPointMap>;
export type MqttPointMap = z.infer<typeof mqttPointMap>;
