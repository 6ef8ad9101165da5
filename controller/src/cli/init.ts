import { existsSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { siteConfigText, type WrittenRoom } from './site-config-writer.ts';
import { validateCommand } from './validate.ts';

/**
 * `roomctl init`: a commented starting config for a building without a points list
 * (with one, `roomctl import`). It asks nothing when given flags; on a terminal it asks
 * for what is missing (site id, name, time zone, rooms); otherwise it takes defaults and
 * says which. Each room gets a device of each chosen kind on the built-in profiles
 * (DEVICE_KINDS), Modbus units numbered on one gateway, MQTT base topics
 * `<site>/<room>/<device>`. What it wrote is validated before it returns.
 */
export interface InitOptions {
  siteId?: string;
  name?: string;
  timezone?: string;
  rooms?: string;
  out?: string;
  force?: boolean;
  broker?: string;
  influx?: string;
  language?: string;
  devices?: string;
  gateway?: string;
  capacity?: number;
}

/** Kind → the device a room gets: its name and built-in profile (devices/profiles/). */
export const DEVICE_KINDS: Record<string, { name: string; profile: string; modbus?: true; channels?: Record<string, number | string[]> }> = {
  hvac: { name: 'hvac', profile: 'fcu-modbus', modbus: true },
  fresh_air: { name: 'fresh_air', profile: 'fau-modbus', modbus: true },
  lighting: { name: 'lights', profile: 'lighting-mqtt' },
  audio: { name: 'audio', profile: 'dsp-mqtt', channels: { mic: 2 } },
  door: { name: 'door', profile: 'door-mqtt' },
  occupancy: { name: 'occupancy', profile: 'occupancy-mqtt' },
  display: { name: 'display', profile: 'display-mqtt' },
  boiler: { name: 'boiler', profile: 'boiler-mqtt' },
  window: { name: 'window', profile: 'window-mqtt' },
  air_quality: { name: 'air', profile: 'air-quality-mqtt' },
};
export const DEFAULT_KINDS = ['hvac', 'lighting', 'audio', 'door', 'occupancy', 'display'];

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const DEFAULTS = { siteId: 'my-building', name: 'My building', rooms: '2', out: 'site.yaml', language: 'zh-CN', gateway: '192.0.2.10:502', capacity: 12 };

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return tz.includes('/') || tz === 'UTC';
  } catch {
    return false;
  }
}

/** The machine's zone, when it is a real IANA one (containers often say UTC). */
const systemZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export async function initCommand(opts: InitOptions, err: (line: string) => void = console.error, out: (line: string) => void = console.log): Promise<number> {
  const o = { ...opts };
  if (process.stdin.isTTY && process.stdout.isTTY) await ask(o);
  const defaulted: string[] = [];
  const pick = <K extends keyof typeof DEFAULTS>(k: K, flag: string): (typeof DEFAULTS)[K] => {
    if (o[k] !== undefined) return o[k] as (typeof DEFAULTS)[K];
    defaulted.push(`${flag} ${DEFAULTS[k]}`);
    return DEFAULTS[k];
  };
  const siteId = pick('siteId', '--site-id');
  const name = pick('name', '--name');
  const roomsArg = pick('rooms', '--rooms');
  const file = pick('out', '--out');
  const language = pick('language', '--language');
  const gatewayArg = pick('gateway', '--gateway');
  const capacity = pick('capacity', '--capacity');
  let timezone = o.timezone;
  if (timezone === undefined) defaulted.push(`--timezone ${(timezone = systemZone())} (this machine's)`);
  const problems: string[] = [];
  if (!ID.test(siteId)) problems.push(`--site-id: "${siteId}": letters, digits, "-" and "_" only`);
  if (!isTimeZone(timezone)) problems.push(`--timezone: "${timezone}" is not an IANA time zone (e.g. Asia/Shanghai, Europe/Berlin)`);
  if (!['zh-CN', 'en'].includes(language)) problems.push(`--language: "${language}": zh-CN or en`);
  if (o.broker !== undefined && o.broker !== 'embedded' && !/^(mqtts?|wss?|tcp):\/\/\S+$/.test(o.broker)) problems.push(`--broker: "${o.broker}": embedded, or an MQTT URL such as mqtt://broker:1883`);
  if (o.influx !== undefined && !/^https?:\/\/\S+$/.test(o.influx)) problems.push(`--influx: "${o.influx}": an http(s):// URL such as http://influxdb:8086`);
  const roomIds = /^\d+$/.test(roomsArg) ? Array.from({ length: Number(roomsArg) }, (_, i) => `room-${i + 1}`) : roomsArg.split(',').map((r) => r.trim()).filter(Boolean);
  if (roomIds.length === 0 || roomIds.length > 500) problems.push(`--rooms: "${roomsArg}": a count (1–500) or ids such as 3F-301,3F-302`);
  for (const r of roomIds) if (!ID.test(r)) problems.push(`--rooms: room id "${r}": letters, digits, "-" and "_" only`);
  if (new Set(roomIds).size !== roomIds.length) problems.push(`--rooms: a room id is given twice`);
  const kinds = (o.devices ?? DEFAULT_KINDS.join(',')).split(',').map((k) => k.trim()).filter(Boolean);
  for (const k of kinds) if (!DEVICE_KINDS[k]) problems.push(`--devices: unknown kind "${k}" (${Object.keys(DEVICE_KINDS).join(', ')})`);
  const gw = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(gatewayArg);
  if (!gw) problems.push(`--gateway: "${gatewayArg}": host[:port] of the Modbus TCP gateway`);
  if (!Number.isInteger(capacity) || capacity < 1) problems.push(`--capacity: "${capacity}": seats per room, a whole number ≥ 1`);
  if (existsSync(file) && !o.force) problems.push(`--out: ${file} exists; give --force to overwrite it, or another --out`);
  if (problems.length) {
    for (const p of problems) err(p);
    return 2;
  }
  const modbusKinds = kinds.filter((k) => DEVICE_KINDS[k]!.modbus);
  let unit = 0;
  const rooms: WrittenRoom[] = roomIds.map((id) => ({
    id,
    name: id,
    capacity,
    devices: kinds.map((k) => {
      const d = DEVICE_KINDS[k]!;
      const address = d.modbus ? { modbus: { gateway: 'gw-1', unit: ++unit } } : { mqtt: { base: `${siteId}/${id}/${d.name}` } };
      return { name: d.name, profile: d.profile, ...address, ...(d.channels ? { channels: d.channels } : {}) };
    }),
  }));
  const text = siteConfigText({
    origin: `written by \`roomctl init\`: devices ${kinds.join(', ')} in every room on the built-in profiles; edit addresses and capacities to match the building.`,
    site: { id: siteId, name, timezone, language },
    mqttUrl: o.broker && o.broker !== 'embedded' ? o.broker : undefined,
    influxUrl: o.influx,
    gateways: modbusKinds.length ? [{ id: 'gw-1', host: gw![1]!, port: gw![2] ? Number(gw![2]) : 502, comment: gatewayArg === DEFAULTS.gateway ? 'a documentation address: your gateway\'s here' : undefined }] : [],
    rooms,
    simDay: '2026-07-15',
  });
  if (defaulted.length) err(`roomctl init: not given, so defaults: ${defaulted.join(', ')}`);
  writeFileSync(file, text, { flag: o.force ? 'w' : 'wx' });
  out(`wrote ${file}: site ${siteId}, ${rooms.length} room${rooms.length === 1 ? '' : 's'} × ${kinds.length} devices (${kinds.map((k) => `${k}: ${DEVICE_KINDS[k]!.profile}`).join(', ')})`);
  return validateCommand(file, out, err);
}

/** On a terminal: what was not given on the command line, with the default in brackets. */
async function ask(o: InitOptions): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const q = async (label: string, def: string) => (await rl.question(`${label} [${def}]: `)).trim() || def;
    if (o.siteId === undefined) o.siteId = await q('site id (in MQTT topics and records)', DEFAULTS.siteId);
    if (o.name === undefined) o.name = await q('building name', DEFAULTS.name);
    if (o.timezone === undefined) o.timezone = await q('time zone (IANA, e.g. Asia/Shanghai)', systemZone());
    if (o.rooms === undefined) o.rooms = await q('rooms (ids such as 3F-301,3F-302, or a count)', DEFAULTS.rooms);
  } finally {
    rl.close();
  }
}
