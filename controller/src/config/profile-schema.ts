import { z } from 'zod';

/**
 * Device profiles are data (devices/profiles/*.yaml): a device model's points and
 * how each maps onto MQTT topics/JSON paths or Modbus registers. Placeholders in
 * point keys, topics and paths: `{base}` (the device's MQTT base topic), and the
 * profile's channel names (e.g. `{mic}`, `{zone}`), expanded per device.
 */
const scalar = z.union([z.number(), z.boolean(), z.string()]);

const modbusTable = z.enum(['holding', 'input', 'coil', 'discrete']);
const address = z.number().int().min(0).max(65535);
/** Byte order of a multi-byte value on the wire, as vendor manuals write it: A is the most significant byte. */
export const MODBUS_ORDERS = ['ABCD', 'BADC', 'CDAB', 'DCBA'] as const;
export type ModbusOrder = (typeof MODBUS_ORDERS)[number];
const endian = z.enum(['big', 'little']);

/** Registers a value of each type occupies (coil and discrete points: one bit). */
export const REGISTER_WIDTH = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4 } as const;
export type RegisterType = keyof typeof REGISTER_WIDTH;
const registerTypes = Object.keys(REGISTER_WIDTH) as [RegisterType, ...RegisterType[]];

export const modbusPointMap = z
  .strictObject({
    table: modbusTable,
    address,
    /** Register encoding; ignored for coil/discrete tables (always bits). */
    type: z.enum(registerTypes).default('uint16'),
    /** value = raw * scale + offset; writes invert it. */
    scale: z.number().refine((n) => n !== 0, 'scale must not be 0').default(1),
    offset: z.number().default(0),
    /**
     * Byte order on the wire: ABCD (Modbus standard, big-endian), BADC (bytes swapped in
     * each register), CDAB (registers swapped), DCBA (fully reversed). Same as
     * byte_order/word_order given separately; 16-bit types use only the byte half.
     */
    order: z.enum(MODBUS_ORDERS).optional(),
    /** Bytes within a register; falls back to the profile's. */
    byte_order: endian.optional(),
    /** Registers of a 32/64-bit value (big = most significant first); falls back to the profile's. */
    word_order: endian.optional(),
    /** A bit (0 = least significant) of one 16-bit register … */
    bit: z.number().int().min(0).max(15).optional(),
    /** … or a field of bits [from, to], inclusive. Written by read-modify-write (or FC22). */
    bits: z.tuple([z.number().int().min(0).max(15), z.number().int().min(0).max(15)]).optional(),
    /** Coils: 5 (single) or 15 (multiple); registers: 6 (single) or 16 (multiple); bit fields also 22 (mask write). */
    write_function: z.union([z.literal(5), z.literal(15), z.literal(6), z.literal(16), z.literal(22)]).optional(),
    /** Raw register value → enum value, for `type: enum` points. */
    enum: z.record(z.string().regex(/^-?\d+$/, 'enum keys are raw register values'), z.string()).optional(),
  })
  .superRefine((m, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const bitTable = m.table === 'coil' || m.table === 'discrete';
    const width = bitTable ? 1 : REGISTER_WIDTH[m.type];
    if (m.order && (m.byte_order || m.word_order)) issue('order', 'give either order or byte_order/word_order, not both');
    if (m.bit !== undefined && m.bits) issue('bits', 'give either bit or bits, not both');
    const field = m.bit !== undefined || !!m.bits;
    if (field && bitTable) issue(m.bits ? 'bits' : 'bit', `a ${m.table} point is a single bit already; bit and bits select bits of a holding or input register`);
    else if (field && m.type !== 'uint16') issue('type', `a bit field is part of one 16-bit register: type must be uint16, got ${m.type}`);
    if (m.bits && m.bits[0] > m.bits[1]) issue('bits', `bits [${m.bits[0]}, ${m.bits[1]}]: from must not be above to`);
    const fc = m.write_function;
    if (fc === undefined) return;
    if (m.table === 'input' || m.table === 'discrete') issue('write_function', `the ${m.table} table is read-only; nothing is written`);
    else if (m.table === 'coil' && fc !== 5 && fc !== 15) issue('write_function', `a coil is written with 5 (single) or 15 (multiple), not ${fc}`);
    else if (m.table === 'holding' && fc !== 6 && fc !== 16 && fc !== 22) issue('write_function', `a holding register is written with 6, 16 or (bit fields) 22, not ${fc}`);
    else if (fc === 22 && !field) issue('write_function', '22 (mask write) changes some bits of a register: give the point a bit or bits');
    else if (fc === 6 && width > 1) issue('write_function', `6 writes one register and a ${m.type} spans ${width}: use 16`);
  });

/** Effective byte and word order of a point: the point's own, else the profile's, else big-endian (ABCD). */
export function resolveOrder(
  map: Pick<ModbusPointMap, 'order' | 'byte_order' | 'word_order'>,
  profile: Pick<DeviceProfile, 'order' | 'byte_order' | 'word_order'>,
): { byte_order: 'big' | 'little'; word_order: 'big' | 'little' } {
  const split = (o: ModbusOrder | undefined) =>
    o ? ({ byte_order: o === 'BADC' || o === 'DCBA' ? 'little' : 'big', word_order: o === 'CDAB' || o === 'DCBA' ? 'little' : 'big' } as const) : undefined;
  const own = split(map.order);
  if (own) return own;
  const base = split(profile.order);
  return {
    byte_order: map.byte_order ?? base?.byte_order ?? profile.byte_order ?? 'big',
    word_order: map.word_order ?? base?.word_order ?? profile.word_order ?? 'big',
  };
}

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
    if (p.modbus?.write_function !== undefined && !p.writable)
      ctx.addIssue({ code: 'custom', path: ['modbus', 'write_function'], message: 'the point is not writable (writable: true is missing)' });
    if (p.safe && p.type !== 'number') ctx.addIssue({ code: 'custom', path: ['safe'], message: 'only number points have safe limits' });
  });

/** An address or an inclusive [from, to] range. */
const addressList = z.array(z.union([address, z.tuple([address, address])]));

export const modbusReadSchema = z.strictObject({
  /** Unused registers a read may span rather than split (bit tables: ×16 bits); the adapter's default is 10. */
  max_gap: z.number().int().min(0).max(124).optional(),
  /** Addresses the unit refuses to be read, though they lie between its points: no read ever covers them. */
  no_read: z.strictObject({ holding: addressList, input: addressList, coil: addressList, discrete: addressList }).partial().optional(),
  /** Fixed reads as the vendor's manual lists them; a table with blocks is read only through them. */
  blocks: z.array(z.strictObject({ table: modbusTable, address, count: z.number().int().min(1).max(2000) })).min(1).optional(),
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
    /** Modbus: default byte order of the profile's registers (a point's own order wins). */
    order: z.enum(MODBUS_ORDERS).optional(),
    byte_order: endian.optional(),
    word_order: endian.optional(),
    /** Modbus: how the points are read (gaps, refused addresses, fixed blocks). */
    modbus: modbusReadSchema.optional(),
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
        if (m.bit !== undefined && point.type !== 'boolean' && point.type !== 'enum')
          ctx.addIssue({ code: 'custom', path: ['points', key, 'type'], message: `a bit point is boolean (or an enum of 0/1), not ${point.type}` });
        if (m.bits && point.type !== 'number' && point.type !== 'enum')
          ctx.addIssue({ code: 'custom', path: ['points', key, 'type'], message: `a bits field is a number or an enum, not ${point.type}` });
      }
    }
    if (profile.protocol === 'modbus') checkModbusLayout(profile, ctx);
  });

type Ctx = z.RefinementCtx;
type ProfileShape = { order?: ModbusOrder; word_order?: string; byte_order?: string; modbus?: z.infer<typeof modbusReadSchema>; points: Record<string, PointDef> };

const inRange = (a: number, list: z.infer<typeof addressList> | undefined) => (list ?? []).some((e) => (typeof e === 'number' ? e === a : a >= e[0] && a <= e[1]));
const fieldMask = (m: ModbusPointMap) => (m.bit !== undefined ? 1 << m.bit : m.bits ? ((1 << (m.bits[1] - m.bits[0] + 1)) - 1) << m.bits[0] : undefined);

/**
 * Checks across points of a Modbus profile: no two points where a write of one would
 * change the other (bit fields of one register are fine while their bits are apart),
 * nothing placed on an address listed as no_read, every point inside a declared
 * block of its table, and blocks within the protocol's per-read limits.
 */
function checkModbusLayout(profile: ProfileShape, ctx: Ctx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (profile.order && (profile.byte_order || profile.word_order)) issue(['order'], 'give either order or byte_order/word_order, not both');
  const read = profile.modbus;
  const placed: { key: string; table: string; from: number; to: number; mask?: number; writable: boolean }[] = [];
  for (const [key, point] of Object.entries(profile.points)) {
    const m = point.modbus;
    if (!m) continue;
    const width = m.table === 'coil' || m.table === 'discrete' ? 1 : REGISTER_WIDTH[m.type];
    const here = { key, table: m.table, from: m.address, to: m.address + width - 1, mask: fieldMask(m), writable: point.writable };
    const path = ['points', key, 'modbus', 'address'];
    if (here.to > 0xffff) issue(path, `${m.type} at ${m.address} needs ${width} registers and runs past address 65535`);
    for (let a = here.from; a <= here.to; a++)
      if (inRange(a, read?.no_read?.[m.table])) {
        issue(path, `${m.table} ${a} is listed in modbus.no_read, so this point could never be read`);
        break;
      }
    for (const other of placed) {
      if (other.table !== here.table || other.to < here.from || other.from > here.to) continue;
      if (here.mask !== undefined && other.mask !== undefined && (here.mask & other.mask) === 0) continue;
      if (here.writable || other.writable) issue(path, `${m.table} ${here.from} overlaps point ${other.key}: writing one would change the other`);
    }
    placed.push(here);
    const blocks = read?.blocks?.filter((b) => b.table === m.table) ?? [];
    if (blocks.length > 0 && !blocks.some((b) => here.from >= b.address && here.to <= b.address + b.count - 1))
      issue(path, `${m.table} ${here.from}${here.to > here.from ? `..${here.to}` : ''} is in none of the modbus.blocks declared for ${m.table}`);
  }
  (read?.blocks ?? []).forEach((b, i) => {
    const limit = b.table === 'coil' || b.table === 'discrete' ? 2000 : 125;
    if (b.count > limit) issue(['modbus', 'blocks', i, 'count'], `one read of ${b.table} takes at most ${limit}, got ${b.count}`);
    if (b.address + b.count - 1 > 0xffff) issue(['modbus', 'blocks', i, 'count'], `${b.table} ${b.address}+${b.count} runs past address 65535`);
    for (let a = b.address; a < b.address + b.count; a++)
      if (inRange(a, read?.no_read?.[b.table])) {
        issue(['modbus', 'blocks', i], `covers ${b.table} ${a}, which modbus.no_read says the unit refuses`);
        break;
      }
  });
  (['holding', 'input', 'coil', 'discrete'] as const).forEach((t) =>
    (read?.no_read?.[t] ?? []).forEach((e, i) => {
      if (Array.isArray(e) && e[0] > e[1]) issue(['modbus', 'no_read', t, i], `[${e[0]}, ${e[1]}]: from must not be above to`);
    }),
  );
}

export type DeviceProfile = z.infer<typeof profileSchema>;
export type ModbusReadLayout = z.infer<typeof modbusReadSchema>;
export type PointDef = z.infer<typeof pointSchema>;
export type ModbusPointMap = z.infer<typeof modbusPointMap>;
export type MqttPointMap = z.infer<typeof mqttPointMap>;
