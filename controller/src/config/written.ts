import type { z } from 'zod';
import { closest, keysAt } from './issues.ts';

/**
 * The names a reference in the config may point at, as the file *wrote* them: read
 * from the raw YAML, not the validated result, so a policy, gateway, room or device
 * whose entry is invalid (or sits under a misspelt key such as `polices:`) still
 * counts as written. The entry's own problem is the mistake; a reference to it is
 * not reported again, because fixing the entry fixes the reference.
 */
export class WrittenNames {
  private readonly names = new Set<string>();
  /** false when some entry's name could not be read at all: then no unknown name can be told from that one. */
  complete = true;

  add(name: unknown): void {
    if (typeof name === 'string') this.names.add(name);
    else this.complete = false;
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** A reference worth reporting: a name nobody wrote, in a section whose names could all be read. */
  unknown(name: string): boolean {
    return this.complete && !this.names.has(name);
  }

  list(): string[] {
    return [...this.names];
  }
}

export interface Written {
  policies: WrittenNames;
  gateways: WrittenNames;
  rooms: WrittenNames;
  /** `room/device` of every device written in a room whose id could be read. */
  devices: Set<string>;
  /** The device names written in each room, by its index in `rooms`. */
  roomDevices: Map<number, WrittenNames>;
}

type Raw = Record<string, unknown>;
const isMap = (v: unknown): v is Raw => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * The value at `path` of the raw config, taking a misspelt key for the one the schema
 * knows (`mdbus` for `modbus`, `gateway` for `gateways`): its content was written
 * for that section, and references into it deserve the benefit of the doubt.
 */
export function rawSection(raw: unknown, path: string[], schema: z.ZodType): unknown {
  let node = raw;
  for (let i = 0; i < path.length; i++) {
    if (!isMap(node)) return undefined;
    const want = path[i]!;
    if (want in node) {
      node = node[want];
      continue;
    }
    const known = keysAt(schema, path.slice(0, i));
    const slip = Object.keys(node).find((k) => !known.includes(k) && closest(k, known) === want);
    node = slip === undefined ? undefined : node[slip];
  }
  return node;
}

/** An entry's field by its key or a misspelling of it (`idd: gw-3f`). */
export function rawField(entry: unknown, key: string, known: string[]): unknown {
  if (!isMap(entry)) return undefined;
  if (key in entry) return entry[key];
  const slip = Object.keys(entry).find((k) => !known.includes(k) && closest(k, known) === key);
  return slip === undefined ? undefined : entry[slip];
}

export function writtenNames(raw: unknown, schemas: { config: z.ZodType; gateway: z.ZodType; room: z.ZodType; device: z.ZodType }): Written {
  const policies = new WrittenNames();
  const rawPolicies = rawSection(raw, ['policies'], schemas.config);
  if (isMap(rawPolicies)) Object.keys(rawPolicies).forEach((n) => policies.add(n));
  else if (rawPolicies !== undefined) policies.complete = false;

  const gateways = new WrittenNames();
  const rawGateways = rawSection(raw, ['modbus', 'gateways'], schemas.config);
  const gatewayKeys = keysAt(schemas.gateway, []);
  if (Array.isArray(rawGateways)) rawGateways.forEach((g) => gateways.add(rawField(g, 'id', gatewayKeys)));
  else if (rawGateways !== undefined) gateways.complete = false;

  const rooms = new WrittenNames();
  const devices = new Set<string>();
  const roomDevices = new Map<number, WrittenNames>();
  const roomKeys = keysAt(schemas.room, []);
  const deviceKeys = keysAt(schemas.device, []);
  const rawRooms = rawSection(raw, ['rooms'], schemas.config);
  if (Array.isArray(rawRooms))
    rawRooms.forEach((r, i) => {
      const id = rawField(r, 'id', roomKeys);
      rooms.add(id);
      const names = new WrittenNames();
      roomDevices.set(i, names);
      const list = rawField(r, 'devices', roomKeys);
      if (Array.isArray(list))
        for (const d of list) {
          const name = rawField(d, 'name', deviceKeys);
          names.add(name);
          if (typeof id === 'string' && typeof name === 'string') devices.add(`${id}/${name}`);
        }
      else if (list !== undefined) names.complete = false;
    });
  else rooms.complete = false;
  return { policies, gateways, rooms, devices, roomDevices };
}
