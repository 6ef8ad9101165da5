import { isMap, isSeq, parseDocument, stringify, YAMLMap, YAMLSeq, type Document } from 'yaml';

/**
 * The site config `roomctl init` and `roomctl import` write: YAML with a comment on
 * every section saying what it is for and where it is documented, devices one per line
 * (flow style, as config/demo.yaml has them), and a `simulation:` day with one meeting
 * per room so `roomctl sim run` plays at once. `mergeIntoConfig` adds rooms, gateways
 * and the profiles folder to an existing file, keeping its comments.
 */
export interface WrittenRoom {
  id: string;
  name: string;
  capacity: number;
  devices: Record<string, unknown>[];
  /** Said above the room's devices (where they came from). */
  comment?: string;
}

export interface SiteFile {
  site: { id: string; name: string; timezone: string; language: string };
  /** undefined = the embedded broker. */
  mqttUrl?: string;
  influxUrl?: string;
  gateways: { id: string; host: string; port: number; comment?: string }[];
  profilesDir?: string;
  rooms: WrittenRoom[];
  /** The simulated day (YYYY-MM-DD). */
  simDay: string;
  /** Said at the top, after the general header. */
  origin: string;
}

const flow = (v: unknown) => stringify(v, { collectionStyle: 'flow', lineWidth: 0 }).trim();
const scalar = (v: string) => stringify(v).trim();
/** Times quoted, as YAML 1.1 readers would take 10:00 for a number (sexagesimal). */
const meetingFlow = (m: Record<string, unknown>) => flow(m).replace(/: (\d\d:\d\d)\b/g, ': "$1"');

/** One meeting per room, at 10:00, for half the room: enough to see every step of P2–P7 once. */
export function simMeetings(rooms: { id: string; capacity: number }[]): Record<string, unknown>[] {
  return rooms.map((r) => ({ id: `m-${r.id.toLowerCase()}`, room: r.id, start: '10:00', end: '11:00', level: 'normal', attendees: Math.max(1, Math.ceil(r.capacity / 2)) }));
}

export function siteConfigText(f: SiteFile): string {
  const out: string[] = [];
  const line = (s = '') => out.push(s);
  line(`# roomctl site configuration — ${f.origin}`);
  line('# Every key is described in docs/configuration.md; the service procedures (P1–P16)');
  line('# whose defaults roomctl follows are in docs/procedures.md. Check it with');
  line('#   npx roomctl validate <this file>     and play a simulated day with');
  line('#   npx roomctl sim run --config <this file>');
  line();
  line('# The building: its id is in every MQTT topic (roomctl/<id>/…) and every record;');
  line('# the time zone decides when meetings start and which season (P5 comfort band) it is.');
  line('site:');
  line(`  id: ${scalar(f.site.id)}`);
  line(`  name: ${scalar(f.site.name)}`);
  line(`  timezone: ${scalar(f.site.timezone)}`);
  line(`  language: ${scalar(f.site.language)}          # wall panels: zh-CN or en`);
  line('  # seasons, working_days and routines (P1 opening 08:00, P8 sweep 18:30, P9 weekly self-test) keep their defaults');
  line();
  line('# MQTT: without url roomctl runs its own broker on 127.0.0.1:1883 (see README "Security"');
  line('# before opening it to the building network: every device then needs a login).');
  if (f.mqttUrl) line(`mqtt:\n  url: ${scalar(f.mqttUrl)}\n  # username: roomctl\n  # password: \${ROOMCTL_MQTT_PASSWORD}    # secrets come from the environment`);
  else line('mqtt:\n  broker: { host: 127.0.0.1, port: 1883 }');
  line();
  line('# InfluxDB (v1 API) for Grafana; without a url everything waits in the local spool and the log says so.');
  if (f.influxUrl) line(`influx:\n  url: ${scalar(f.influxUrl)}\n  database: roomctl`);
  else line('# influx: { url: http://influxdb:8086, database: roomctl }');
  line();
  line('# Modbus TCP gateways; devices behind one gateway share its connection by unit id.');
  if (f.gateways.length === 0) line('modbus: { gateways: [] }');
  else {
    line('modbus:\n  gateways:');
    for (const g of f.gateways) line(`    - ${flow({ id: g.id, tcp: { host: g.host, port: g.port } })}${g.comment ? `   # ${g.comment}` : ''}`);
  }
  line();
  if (f.profilesDir) {
    line('# The site\'s own device profiles (relative to this file), searched after devices/profiles/.');
    line(`profiles_dir: ${scalar(f.profilesDir)}`);
    line();
  }
  line('# Rooms: each device is a profile (devices/profiles/, or profiles_dir) plus its address.');
  line('# Rooms use the built-in "default" policy: lead times and checks of docs/procedures.md.');
  line('rooms:');
  for (const r of f.rooms) {
    line(`  - id: ${scalar(r.id)}`);
    line(`    name: ${scalar(r.name)}`);
    line(`    capacity: ${r.capacity}          # seats: set the real figure (the simulator sizes the room by it)`);
    line('    devices:');
    if (r.comment) line(`      # ${r.comment}`);
    for (const d of r.devices) line(`      - ${flow(d)}`);
  }
  line();
  line('# The simulated day `roomctl sim run` and `roomctl start --simulate` play on this building:');
  line('# the simulator stands in for every device above (same profiles, real sockets). Add your');
  line('# own meetings (level normal, vip3, vip2, vip1); titles and organizers stay confidential (P15).');
  line('simulation:');
  line(`  day: ${scalar(f.simDay)}`);
  line('  seed: 1');
  line('  meetings:');
  for (const m of simMeetings(f.rooms)) line(`    - ${meetingFlow(m)}`);
  return `${out.join('\n')}\n`;
}

export interface Merge {
  rooms: WrittenRoom[];
  gateways: { id: string; host: string; port: number; comment?: string }[];
  profilesDir?: string;
}

/**
 * Adds imported rooms to an existing config: a room of the same id has its devices
 * replaced by the imported ones (the points list is what is installed there), a new
 * room is appended (and gets a meeting in simulation.meetings, if the file has that
 * list); new gateways are appended; profiles_dir is set unless the file has one.
 * Returns the text and what it did, in words.
 */
export function mergeIntoConfig(text: string, m: Merge): { text: string; notes: string[] } | { error: string } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return { error: `YAML: ${doc.errors[0]!.message.split('\n')[0]}` };
  if (!isMap(doc.contents)) return { error: 'expected a mapping with site, rooms, …' };
  const notes: string[] = [];
  if (!doc.has('profiles_dir') && m.profilesDir) doc.set('profiles_dir', m.profilesDir);
  if (m.gateways.length > 0) {
    if (!doc.hasIn(['modbus', 'gateways'])) doc.setIn(['modbus', 'gateways'], doc.createNode([]));
    const gws = doc.getIn(['modbus', 'gateways']);
    if (!isSeq(gws)) return { error: 'modbus.gateways: expected a list' };
    gws.flow = false;
    for (const g of m.gateways) gws.add(flowNode(doc, { id: g.id, tcp: { host: g.host, port: g.port } }));
    notes.push(`added gateway${m.gateways.length > 1 ? 's' : ''} ${m.gateways.map((g) => g.id).join(', ')}`);
  }
  const rooms = doc.get('rooms');
  if (!isSeq(rooms)) return { error: 'rooms: expected a list' };
  const meetings = doc.getIn(['simulation', 'meetings']);
  for (const r of m.rooms) {
    const devices = new YAMLSeq();
    for (const d of r.devices) devices.add(flowNode(doc, d));
    devices.commentBefore = r.comment ? ` ${r.comment}` : undefined;
    const existing = rooms.items.find((item) => isMap(item) && item.get('id') === r.id) as YAMLMap | undefined;
    if (existing) {
      const before = existing.get('devices');
      existing.set('devices', devices);
      notes.push(`room ${r.id}: devices replaced by the points list's ${r.devices.length} (the file had ${isSeq(before) ? before.items.length : 0})`);
    } else {
      rooms.add(doc.createNode({ id: r.id, name: r.name, capacity: r.capacity, devices }));
      notes.push(`room ${r.id}: added with ${r.devices.length} device${r.devices.length === 1 ? '' : 's'} (capacity ${r.capacity}: set the real figure)`);
      if (isSeq(meetings)) for (const meeting of simMeetings([r])) meetings.add(parseDocument(meetingFlow(meeting)).contents);
    }
  }
  return { text: doc.toString({ lineWidth: 0 }), notes };
}

function flowNode(doc: Document, value: unknown) {
  const node = doc.createNode(value);
  if (isMap(node) || isSeq(node)) node.flow = true;
  return node;
}
