import type { DeviceKind } from './kind-contracts.ts';
import type { DeviceProfile, PointDef } from './profile-schema.ts';
import type { PointRow, PointsTable } from './points-list-columns.ts';
import { kindFromColumn, kindsFromName, kindsFromPoints, pointKeyOf, words } from './points-list-names.ts';
import { parseAddress, parseHost, parseNumber, parseProtocol, parseScale, parseTable, parseType, parseValues, parseWritable, type Parsed, type Table } from './points-list-cells.ts';

/**
 * A points list → the devices of each room, with one point definition per row, in
 * the profile format (profile-schema.ts) but with absolute MQTT topics (the profile
 * step, points-list-profiles.ts, turns those into `{base}/…`). Rows of one (room,
 * device) are one device. Every row that cannot be placed is kept with its reason;
 * the rest is used.
 */
export interface ListedPoint {
  row: number;
  key: string;
  def: Record<string, unknown>;
}

export interface ListedDevice {
  room: string;
  /** As the list spells it ("FCU-1"), and as a config device name ("fcu_1"). */
  label: string;
  name: string;
  kind: DeviceKind;
  protocol: 'modbus' | 'mqtt';
  modbus?: { gateway: string; unit: number };
  model?: string;
  points: ListedPoint[];
}

export interface ListedGateway {
  id: string;
  host?: string;
  port?: number;
}

export interface Unplaced {
  row: number;
  why: string;
}

export interface PointsList {
  rooms: { id: string; capacity?: number; devices: ListedDevice[] }[];
  gateways: ListedGateway[];
  unplaced: Unplaced[];
}

/** The built-in point a key of a kind corresponds to (`main.on` of lighting → lighting-mqtt's `{zone}.on`), for its defaults. */
export function builtinPoint(builtins: Map<string, DeviceProfile>, kind: DeviceKind, protocol: string, key: string): PointDef | undefined {
  const ofKind = [...builtins.values()].filter((p) => p.kind === kind).sort((a, b) => Number(b.protocol === protocol) - Number(a.protocol === protocol));
  for (const p of ofKind)
    for (const [template, def] of Object.entries(p.points)) if (templateRegex(template).test(key)) return def;
  return undefined;
}

export const templateRegex = (template: string) => new RegExp(`^${template.replace(/\./g, '\\.').replace(/\{[a-z]+\}/g, '([a-z0-9_]+)')}$`);

const slug = (s: string) => words(s).join('_').replace(/^(\d)/, 'd$1');
const take = <T>(p: Parsed<T>, row: number, out: Unplaced[]): T | undefined => {
  if ('why' in p) {
    out.push({ row, why: p.why });
    return undefined;
  }
  return p.ok;
};

interface Group {
  room: string;
  label: string;
  rows: PointRow[];
  first: PointRow;
  protocol: 'modbus' | 'mqtt';
  gateway?: ListedGateway;
  unit?: number;
}

/** Reads the rows into devices, given the gateways a config already has (for `--into`). */
export function buildPointsList(table: PointsTable, builtins: Map<string, DeviceProfile>, knownGateways: ListedGateway[] = []): PointsList {
  const unplaced: Unplaced[] = [];
  const gateways = new Map(knownGateways.map((g) => [g.id, g]));
  const added: ListedGateway[] = [];
  const groups = new Map<string, Group>();
  const capacity = new Map<string, number>();
  for (const r of table.rows) {
    const c = r.cells;
    const missing = (['room', 'device', 'point'] as const).find((k) => !c[k]);
    if (missing) {
      unplaced.push({ row: r.row, why: `no ${missing}` });
      continue;
    }
    const protocol = take(parseProtocol(c.protocol), r.row, unplaced);
    if (!protocol) continue;
    const id = `${c.room}\u0000${c.device}`;
    const group = groups.get(id);
    if (group && group.protocol !== protocol) {
      unplaced.push({ row: r.row, why: `device "${c.device}" of room ${c.room} is ${group.protocol} (row ${group.first.row}); this row says ${protocol}` });
      continue;
    }
    let gateway: ListedGateway | undefined;
    let unit: number | undefined;
    if (protocol === 'modbus') {
      gateway = gatewayOf(c.gateway, gateways, added, r.row, unplaced);
      if (!gateway) continue;
      const u = c.unit === undefined ? undefined : Number(c.unit);
      if (u === undefined || !Number.isInteger(u) || u < 0 || u > 247) {
        unplaced.push({ row: r.row, why: c.unit === undefined ? 'no Modbus unit id' : `unit id "${c.unit}" is not 0–247` });
        continue;
      }
      unit = u;
      if (group && (group.gateway!.id !== gateway.id || group.unit !== unit)) {
        unplaced.push({ row: r.row, why: `device "${c.device}" of room ${c.room} is unit ${group.unit} on ${group.gateway!.id} (row ${group.first.row}); this row says unit ${unit} on ${gateway.id}` });
        continue;
      }
    }
    if (c.capacity && Number.isInteger(Number(c.capacity)) && Number(c.capacity) > 0) capacity.set(c.room!, Number(c.capacity));
    if (group) group.rows.push(r);
    else groups.set(id, { room: c.room!, label: c.device!, rows: [r], first: r, protocol, gateway, unit });
  }

  const rooms = new Map<string, ListedDevice[]>();
  for (const g of groups.values()) {
    const device = buildDevice(g, builtins, unplaced);
    const list = rooms.get(g.room) ?? [];
    if (device && list.some((d) => d.name === device.name)) {
      for (const p of device.points) unplaced.push({ row: p.row, why: `device "${g.label}" of room ${g.room} has the config name ${device.name} of another device of the room` });
    } else if (device) list.push(device);
    rooms.set(g.room, list);
  }
  unplaced.sort((a, b) => a.row - b.row);
  return {
    rooms: [...rooms].map(([id, devices]) => ({ id, capacity: capacity.get(id), devices })),
    gateways: added,
    unplaced,
  };
}

function gatewayOf(cell: string | undefined, known: Map<string, ListedGateway>, added: ListedGateway[], row: number, out: Unplaced[]): ListedGateway | undefined {
  if (!cell) {
    out.push({ row, why: 'no gateway or host for a Modbus point' });
    return undefined;
  }
  const address = parseHost(cell);
  if (!address) {
    const byId = known.get(cell);
    if (!byId) out.push({ row, why: `gateway "${cell}" is not in modbus.gateways of the config: give host[:port] (e.g. 10.3.0.21:502) or add the gateway to the --into file` });
    return byId;
  }
  const existing = [...known.values()].find((g) => g.host === address.host && (g.port ?? 502) === address.port);
  if (existing) return existing;
  const gw = { id: `gw-${address.host.replace(/[^A-Za-z0-9]+/g, '-')}${address.port === 502 ? '' : `-${address.port}`}`, ...address };
  known.set(gw.id, gw);
  added.push(gw);
  return gw;
}

function kindOf(g: Group): { kind: DeviceKind } | { why: string } {
  const column = [...new Set(g.rows.map((r) => r.cells.kind).filter((k): k is string => !!k))];
  if (column.length > 1) return { why: `device "${g.label}" of room ${g.room} is given several kinds (${column.join(', ')})` };
  if (column.length === 1) {
    const kind = kindFromColumn(column[0]!);
    return kind ? { kind } : { why: `kind "${column[0]}" of device "${g.label}" not understood (hvac, fresh_air, lighting, audio, door, occupancy, display, boiler, window, air_quality, fire_alarm)` };
  }
  const byName = kindsFromName(g.label);
  if (byName.length === 1) return { kind: byName[0]! };
  const byPoints = kindsFromPoints(g.rows.map((r) => r.cells.point!));
  if (byName.length === 0 && byPoints.length === 1) return { kind: byPoints[0]! };
  const said = byName.length > 1 ? `its name suggests ${byName.join(' and ')}` : byPoints.length > 1 ? `its points suggest ${byPoints.join(' and ')}` : 'neither its name nor its points tell';
  return { why: `device "${g.label}" of room ${g.room} has no kind (${said}): add a Kind column` };
}

function buildDevice(g: Group, builtins: Map<string, DeviceProfile>, unplaced: Unplaced[]): ListedDevice | undefined {
  const kind = kindOf(g);
  if ('why' in kind) {
    for (const r of g.rows) unplaced.push({ row: r.row, why: kind.why });
    return undefined;
  }
  const points: ListedPoint[] = [];
  const seen = new Map<string, number>();
  for (const r of g.rows) {
    const key = pointKeyOf(kind.kind, r.cells.point!, g.label);
    const before = seen.get(key);
    if (before !== undefined) {
      unplaced.push({ row: r.row, why: `duplicate point ${slug(g.label)}.${key} ("${r.cells.point}"; also row ${before})` });
      continue;
    }
    const def = pointDef(r, kind.kind, key, g.protocol, builtins, unplaced);
    if (!def) continue;
    seen.set(key, r.row);
    points.push({ row: r.row, key, def });
  }
  if (points.length === 0) return undefined;
  const model = [...new Set(g.rows.map((r) => r.cells.model).filter(Boolean))];
  return {
    room: g.room,
    label: g.label,
    name: slug(g.label),
    kind: kind.kind,
    protocol: g.protocol,
    modbus: g.protocol === 'modbus' ? { gateway: g.gateway!.id, unit: g.unit! } : undefined,
    model: model.length === 1 ? model[0] : undefined,
    points,
  };
}

/** One row's point definition, defaults (stale window, limits, safe range, enum values) from the built-in point of the same kind and key. */
function pointDef(r: PointRow, kind: DeviceKind, key: string, protocol: 'modbus' | 'mqtt', builtins: Map<string, DeviceProfile>, unplaced: Unplaced[]): Record<string, unknown> | undefined {
  const c = r.cells;
  const fail = (why: string) => void unplaced.push({ row: r.row, why });
  const base = builtinPoint(builtins, kind, protocol, key);
  const failures = unplaced.length;
  const type = take(parseType(c.type, protocol), r.row, unplaced);
  const scale = take(parseScale(c.scale), r.row, unplaced);
  const writableCell = take(parseWritable(c.writable), r.row, unplaced);
  const min = take(parseNumber(c.min, 'min'), r.row, unplaced);
  const max = take(parseNumber(c.max, 'max'), r.row, unplaced);
  const values = c.values ? take(parseValues(c.values), r.row, unplaced) : undefined;
  if (!type || scale === undefined || unplaced.length > failures) return undefined;
  let pointType = type.point;
  if (values && pointType !== 'boolean') pointType = 'enum';
  const enumValues = values?.values ?? (pointType === 'enum' ? base?.values : undefined);
  if (pointType === 'enum' && !enumValues) return fail(`point "${c.point}" is an enum without values: give a Values column (e.g. 0=auto; 1=cool)`);
  const writable = writableCell ?? (protocol === 'mqtt' && c.command_topic ? true : base?.writable ?? false);
  const def: Record<string, unknown> = { type: pointType };
  const unit = c.units ?? (base?.type === pointType ? base?.unit : undefined);
  if (unit) def.unit = unit;
  if (writable) def.writable = true;
  const lo = min ?? (base?.type === 'number' ? base.min : undefined);
  const hi = max ?? (base?.type === 'number' ? base.max : undefined);
  if (pointType === 'number' && lo !== undefined) def.min = lo;
  if (pointType === 'number' && hi !== undefined) def.max = hi;
  if (pointType === 'number' && base?.safe && writable) def.safe = { min: Math.max(base.safe.min, lo ?? -Infinity), max: Math.min(base.safe.max, hi ?? Infinity) };
  if (enumValues && pointType === 'enum') def.values = enumValues;
  def.stale_after_s = base?.stale_after_s ?? (protocol === 'modbus' ? 30 : 300);
  if (protocol === 'modbus') {
    if (!c.address) return fail(`no register for Modbus point "${c.point}"`);
    const table = c.table ? take(parseTable(c.table), r.row, unplaced) : undefined;
    if (c.table && !table) return undefined;
    const at = take(parseAddress(c.address, table as Table | undefined), r.row, unplaced);
    if (!at) return undefined;
    const bitTable = at.table === 'coil' || at.table === 'discrete';
    if (writable && (at.table === 'input' || at.table === 'discrete')) return fail(`point "${c.point}" is writable, but the ${at.table} table is read-only`);
    if (bitTable && pointType !== 'boolean') return fail(`point "${c.point}" is in the ${at.table} table, which holds bits, but its type is ${c.type ?? 'a number'}`);
    const map: Record<string, unknown> = { table: at.table, address: at.address };
    if (!bitTable) {
      map.type = at.bit !== undefined || pointType === 'boolean' ? 'uint16' : (type.register ?? 'uint16');
      // A boolean kept in a whole register is its bit 0 (the register reads 0 or 1).
      if (pointType === 'boolean' || at.bit !== undefined) map.bit = at.bit ?? 0;
      if (scale !== 1) map.scale = scale;
    }
    if (pointType === 'enum') {
      const raw = values?.map ?? (base?.modbus?.enum && !values ? base.modbus.enum : undefined);
      if (!raw) return fail(`point "${c.point}" is an enum on a register: give raw values (e.g. 0=auto; 1=cool)`);
      map.enum = raw;
    }
    def.modbus = map;
    return def;
  }
  if (!c.topic) return fail(`no topic for MQTT point "${c.point}"`);
  if (/[#+]/.test(c.topic) || (c.command_topic && /[#+]/.test(c.command_topic))) return fail(`topic "${c.topic}" has a wildcard: a point is one topic`);
  const raw = !c.path && (pointType === 'enum' || pointType === 'string');
  const state: Record<string, unknown> = { topic: c.topic };
  if (c.path) state.path = c.path;
  if (raw) state.format = 'raw';
  const mqtt: Record<string, unknown> = { state };
  if (writable) {
    const topic = c.command_topic ?? (c.topic.endsWith('/state') ? `${c.topic.slice(0, -'/state'.length)}/set` : `${c.topic}/set`);
    mqtt.command = raw ? { topic, payload: '{value}', format: 'raw' } : { topic, payload: c.path ? { [c.path]: '{value}' } : '{value}' };
  }
  if (values?.map) mqtt.map = values.map;
  def.mqtt = mqtt;
  return def;
}
