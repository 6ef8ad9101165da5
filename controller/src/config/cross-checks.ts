import type { ConfigProblem } from './issues.ts';
import type { CheckedDevice, CheckedRoom, LoadedParts } from './load.ts';
import { meetingsOverlap, overCapacity, simMeetingSchema, simRoomSchema, type SimMeetingConfig } from './simulation-schema.ts';
import { hint } from './site-profiles.ts';
import { UnknownRefs } from './room-checks.ts';

/**
 * `roomctl validate`'s cross-reference checks: what each entry of the file may be on
 * its own but two entries together may not (two devices on one Modbus unit or one MQTT
 * base topic, a gateway id given twice, two of roomctl's listeners on one port), and
 * references the loader does not resolve (simulation meetings and fire-alarm zones
 * naming rooms, a policy's meeting scene). They run on the parts of the file that
 * could be read, so one run shows them beside the file's other mistakes; a reference
 * to a name the file wrote in an entry with problems of its own is not reported again.
 */
export function crossChecks(parts: LoadedParts): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // A room name nobody wrote, named by several meetings or zones, is one problem.
  const unknownRooms = new UnknownRefs();
  duplicateRooms(parts, problems);
  duplicateGateways(parts, problems);
  sharedAddresses(parts, problems);
  fireAlarmZones(parts, unknownRooms, problems);
  meetingScenes(parts, problems);
  simulation(parts, unknownRooms, problems);
  listenerPorts(parts, problems);
  problems.push(...unknownRooms.problems());
  for (const p of problems) p.line = parts.lineOf(p.path);
  return problems;
}

const devicePath = (room: CheckedRoom, d: CheckedDevice, ...rest: (string | number)[]) => ['rooms', room.index, 'devices', d.index, ...rest];
const where = (room: CheckedRoom, d: CheckedDevice) => `${room.id ?? `rooms[${room.index}]`}/${d.config.name} (rooms[${room.index}].devices[${d.index}])`;

/** The loader reports duplicates among valid rooms; a room entry with problems can still take a valid room's id. */
function duplicateRooms(parts: LoadedParts, problems: ConfigProblem[]) {
  const first = new Map<string, number>();
  for (const room of parts.rooms) {
    if (room.id === undefined) continue;
    const before = first.get(room.id);
    if (before === undefined) first.set(room.id, room.index);
    else problems.push({ path: ['rooms', room.index, 'id'], message: `duplicate room id "${room.id}" (also rooms[${before}])` });
  }
}

function duplicateGateways(parts: LoadedParts, problems: ConfigProblem[]) {
  const first = new Map<string, number>();
  for (const { index, gateway } of parts.gateways) {
    const before = first.get(gateway.id);
    if (before === undefined) first.set(gateway.id, index);
    else problems.push({ path: ['modbus', 'gateways', index, 'id'], message: `duplicate gateway id "${gateway.id}" (also modbus.gateways[${before}]): devices naming it would all use the first` });
  }
}

/** One Modbus unit (link + unit id) and one MQTT base topic belong to one device: two would read each other's values and take each other's commands. */
function sharedAddresses(parts: LoadedParts, problems: ConfigProblem[]) {
  const units = new Map<string, string>();
  const bases = new Map<string, string>();
  for (const room of parts.rooms)
    for (const d of room.devices) {
      const m = d.device.modbus;
      if (m) {
        const key = `${m.link.key}#${m.unit}`;
        const at = d.config.modbus?.gateway ? `on gateway ${d.config.modbus.gateway}` : `at ${m.link.tcp?.host}:${m.link.tcp?.port}`;
        const other = units.get(key);
        if (other) problems.push({ path: devicePath(room, d, 'modbus', 'unit'), message: `unit ${m.unit} ${at} is also ${other}: one Modbus unit is one device` });
        else units.set(key, where(room, d));
      }
      const base = d.config.mqtt?.base;
      if (base !== undefined) {
        const other = bases.get(base);
        if (other) problems.push({ path: devicePath(room, d, 'mqtt', 'base'), message: `base topic "${base}" is also the base of ${other}: the two would read each other's state and take each other's commands` });
        else bases.set(base, where(room, d));
      }
    }
}

/** A fire-alarm input's zone names rooms for the door-lock interlock; a misspelt one would leave that room's locks unguarded. */
function fireAlarmZones(parts: LoadedParts, unknown: UnknownRefs, problems: ConfigProblem[]) {
  const ids = parts.written.rooms;
  for (const room of parts.rooms)
    for (const d of room.devices) {
      const covers = d.config.covers;
      if (covers === undefined) continue;
      if (d.device.profile.kind !== 'fire_alarm') {
        problems.push({ path: devicePath(room, d, 'covers'), message: `only a fire_alarm device covers rooms; profile ${d.device.profile.id} is ${d.device.profile.kind}` });
        continue;
      }
      if (covers === 'site') continue;
      covers.forEach((id, k) => {
        if (ids.unknown(id)) unknown.add('zone', id, devicePath(room, d, 'covers', k), `unknown room "${id}"${hint(id, ids.list())}`);
      });
    }
}

/**
 * P4: a policy that names its meeting scene expects every room using it to have that
 * scene (without it the ready step only switches the lights on). One problem per
 * policy that set the name, listing the rooms that lack the scene.
 */
function meetingScenes(parts: LoadedParts, problems: ConfigProblem[]) {
  const lacking = new Map<string, { scene: string; rooms: CheckedRoom[] }>();
  for (const room of parts.rooms) {
    if (!room.loaded || !room.policy || !room.policyName) continue;
    const scene = room.policy.meeting_scene;
    const from = namedBy(parts, room.policyName, 'meeting_scene');
    if (room.scenes[scene] || !from) continue;
    const entry = lacking.get(from) ?? { scene, rooms: [] };
    entry.rooms.push(room);
    lacking.set(from, entry);
  }
  for (const [policy, { scene, rooms }] of lacking) {
    const names = [...new Set(rooms.flatMap((r) => Object.keys(r.scenes)))];
    const which = rooms.map((r) => r.id).join(', ');
    problems.push({
      path: ['policies', policy, 'meeting_scene'],
      message: `the ready step (P4) applies scene "${scene}", which ${rooms.length === 1 ? `room ${which} does` : `${rooms.length} rooms using this policy do`} not have${rooms.length === 1 ? '' : ` (${which})`}${hint(scene, names)}`,
    });
  }
}

/** The policy of an `extends` chain that sets `key` in the file, if any. */
function namedBy(parts: LoadedParts, name: string, key: 'meeting_scene'): string | undefined {
  const seen = new Set<string>();
  for (let n: string | undefined = name; n !== undefined && !seen.has(n); n = parts.policyInputs[n]?.extends) {
    seen.add(n);
    if (parts.policyInputs[n]?.[key] !== undefined) return n;
  }
  return undefined;
}

/**
 * The `simulation:` section against the rooms, as `start --simulate` and `sim run`
 * check it (devices/sim/meetings.ts): meetings and room settings name rooms that exist,
 * wireless mics are channels of the room's DSP, a room's meetings do not overlap and
 * fit its capacity. Entries are read one by one: one bad meeting hides no other.
 */
function simulation(parts: LoadedParts, unknown: UnknownRefs, problems: ConfigProblem[]) {
  const sim = parts.simulation;
  if (!sim || typeof sim !== 'object' || Array.isArray(sim)) return;
  const { rooms: simRooms, meetings } = sim as { rooms?: unknown; meetings?: unknown };
  const ids = parts.written.rooms;
  const loaded = new Map(parts.rooms.filter((r) => r.loaded && r.id !== undefined).map((r) => [r.id!, r]));
  const noRoom = (id: string) => `no room "${id}" in rooms${hint(id, ids.list())}`;
  if (simRooms && typeof simRooms === 'object' && !Array.isArray(simRooms))
    for (const [id, settings] of Object.entries(simRooms)) {
      if (ids.unknown(id)) {
        unknown.add('simulation', id, ['simulation', 'rooms', id], noRoom(id));
        continue;
      }
      const room = loaded.get(id);
      const parsed = simRoomSchema.safeParse(settings);
      if (!room || !parsed.success) continue;
      const channels = micChannels(room);
      for (const mic of parsed.data.wireless_mics ?? [])
        if (!channels.includes(String(mic)))
          problems.push({ path: ['simulation', 'rooms', id, 'wireless_mics'], message: `room ${id} has no microphone channel ${mic}${channels.length ? ` (channels: ${channels.join(', ')})` : ''}` });
    }
  if (!Array.isArray(meetings)) return;
  const valid: { i: number; m: SimMeetingConfig }[] = [];
  meetings.forEach((input, i) => {
    const roomId = (input as { room?: unknown } | null)?.room;
    if (typeof roomId === 'string' && ids.unknown(roomId)) unknown.add('simulation', roomId, ['simulation', 'meetings', i, 'room'], noRoom(roomId));
    const parsed = simMeetingSchema.safeParse(input);
    if (!parsed.success) return;
    const m = parsed.data;
    const room = loaded.get(m.room);
    if (room?.capacity !== undefined && overCapacity(m.attendees, room.capacity))
      problems.push({ path: ['simulation', 'meetings', i, 'attendees'], message: `${m.attendees} people in room ${m.room} of capacity ${room.capacity}` });
    for (const { m: other } of valid)
      if (other.room === m.room && meetingsOverlap(m, other))
        problems.push({ path: ['simulation', 'meetings', i], message: `${m.id} ${m.start}–${m.end} overlaps ${other.id} ${other.start}–${other.end} in room ${m.room}` });
    valid.push({ i, m });
  });
}

/** Microphone channels of a room's DSPs (`audio.mic.3.level` → "3"). */
function micChannels(room: CheckedRoom): string[] {
  return room.devices
    .filter((d) => d.device.profile.kind === 'audio')
    .flatMap((d) => d.device.points.map((p) => /^mic\.([a-z0-9_]+)\.level$/.exec(p.id.slice(d.device.name.length + 1))?.[1]).filter((c): c is string => !!c));
}

/** roomctl's own listeners (the embedded broker, its TLS listener, the API): two on one port stop `start` with "address in use". */
function listenerPorts(parts: LoadedParts, problems: ConfigProblem[]) {
  const { mqtt, api } = parts;
  const listeners: { path: string[]; host: string; port: number }[] = [];
  if (mqtt && !mqtt.url) {
    const b = mqtt.broker;
    if (b.plain !== false) listeners.push({ path: ['mqtt', 'broker', 'port'], host: b.host, port: b.port });
    if (b.tls) listeners.push({ path: ['mqtt', 'broker', 'tls', 'port'], host: b.host, port: b.tls.port });
  }
  if (api?.enabled && api.port !== 0) listeners.push({ path: ['api', 'port'], host: api.host, port: api.port });
  const any = (h: string) => h === '0.0.0.0' || h === '::' || h === '[::]';
  listeners.forEach((l, i) => {
    const other = listeners.slice(0, i).find((o) => o.port === l.port && (o.host === l.host || any(o.host) || any(l.host)));
    if (other) problems.push({ path: l.path, message: `port ${l.port} is also ${other.path.join('.')}: start would stop with "address in use"` });
  });
}
