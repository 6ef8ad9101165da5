import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { configSchema, gatewaySchema, roomSchema } from '../src/config/schema.ts';
import { resolvePolicies } from '../src/config/policy-schema.ts';
import { configReferenceSections, PROFILE_HEADING, renderConfigReference } from '../src/config/reference-doc.ts';
import type { ReferenceRow } from '../src/config/reference.ts';

// docs/configuration.md is generated from the zod schemas; these tests keep it current,
// check its rows against what the loader really does, and keep docs/procedures.md's
// "where to change it" column naming keys that exist.

const root = resolve(import.meta.dirname, '../..');
const doc = readFileSync(resolve(root, 'docs/configuration.md'), 'utf8');
const rows = new Map<string, ReferenceRow>(configReferenceSections().flatMap((s) => s.rows.map((r) => [r.path, r] as const)));
const row = (path: string): ReferenceRow => {
  const r = rows.get(path);
  if (!r) throw new Error(`no row for ${path}`);
  return r;
};
/** The key column of every table row of the site-config part of the document (the profile keys follow it), read from the markdown itself. */
const documented = [...doc.split(`\n${PROFILE_HEADING}\n`)[0]!.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
/** `<policy>`, `<scene>`… stand for any one name. */
const wildcard = (path: string) => path.replace(/<[^>]+>/g, '<*>');

/** Every key zod's own JSON Schema of the config lists (`<*>` for a record's names), and the records among them. */
function jsonSchemaKeys(): { paths: Set<string>; records: Set<string> } {
  const paths = new Set<string>();
  const records = new Set<string>();
  const walk = (node: Record<string, unknown> | undefined, at: string) => {
    if (!node || typeof node !== 'object') return;
    for (const alt of [...((node.anyOf as object[]) ?? []), ...((node.oneOf as object[]) ?? []), ...((node.allOf as object[]) ?? [])]) walk(alt as Record<string, unknown>, at);
    for (const [key, child] of Object.entries((node.properties as Record<string, Record<string, unknown>>) ?? {})) {
      const path = at ? `${at}.${key}` : key;
      paths.add(path);
      walk(child, path);
    }
    const items = node.items as Record<string, unknown> | undefined;
    if (items) walk(items, `${at}[]`);
    const values = node.additionalProperties;
    if (values && typeof values === 'object') {
      records.add(at);
      walk(values as Record<string, unknown>, `${at}.<*>`);
    }
  };
  walk(z.toJSONSchema(configSchema, { io: 'input' }) as Record<string, unknown>, '');
  walk(z.toJSONSchema(roomSchema, { io: 'input' }) as Record<string, unknown>, 'rooms[]');
  return { paths, records };
}

describe('the configuration reference (docs/configuration.md)', () => {
  it('is exactly what npm run docs:config generates from the schemas now, and says so in its first line', () => {
    expect(doc, 'docs/configuration.md is out of date: run npm run docs:config').toBe(renderConfigReference());
    expect(doc.split('\n')[0]).toMatch(/^_Generated from the zod schemas .*`npm run docs:config`/);
  });

  it('documents site.routines.opening as an HH:MM time that defaults to 08:00 and comes from P1', () => {
    expect(row('site.routines.opening')).toMatchObject({ type: 'time HH:MM', defaultValue: '08:00', defaultSource: 'schema', required: false, procedure: 'P1' });
    expect(doc).toContain('| `site.routines.opening` | time HH:MM | `08:00` | no | Daily opening: doors unlocked, a low "open" light level, boilers on. | P1 |');
  });

  it('documents the policy lead times with the procedures’ defaults: ready 15 (P4), av 30 (P2, P16), final_sound 5 (P3), vip3 120 (P12)', () => {
    expect(row('policies.<policy>.lead_minutes.ready')).toMatchObject({ type: 'number ≥ 0', defaultValue: 15, defaultSource: 'applied', required: false, procedure: 'P4' });
    expect(row('policies.<policy>.lead_minutes.av')).toMatchObject({ defaultValue: 30, procedure: 'P2, P16' });
    expect(row('policies.<policy>.lead_minutes.final_sound')).toMatchObject({ defaultValue: 5, procedure: 'P3' });
    expect(row('policies.<policy>.lead_minutes.vip3')).toMatchObject({ defaultValue: 120, procedure: 'P12' });
    expect(doc).toContain('| `policies.<policy>.lead_minutes.ready` | number ≥ 0 | `15` | no | Lights to the meeting scene and the readiness check. | P4 |');
  });

  it('states bounds, enum values, required keys and defaults through prefault, object defaults, unions and records', () => {
    expect(row('mqtt.broker.port')).toMatchObject({ type: 'whole number 1–65535', defaultValue: 1883, required: false });
    expect(row('rooms[].devices[].modbus.unit')).toMatchObject({ type: 'whole number 0–247', required: true, section: 'devices' });
    expect(row('rooms[].devices[].modbus').rules).toEqual(['give either gateway or host']);
    expect(row('site.language')).toMatchObject({ type: 'one of `zh-CN`, `en`', defaultValue: 'zh-CN' });
    expect(row('site')).toMatchObject({ required: true, container: true });
    expect(row('rooms')).toMatchObject({ type: 'list of mappings (at least 1)', required: true });
    expect(row('influx')).toMatchObject({ required: false });
    expect(row('site.routines.weekly_selftest')).toMatchObject({ defaultValue: { day: 6, time: '10:00' }, procedure: 'P9' });
    expect(row('site.routines.weekly_selftest.day')).toMatchObject({ defaultValue: 6, defaultSource: 'mapping', required: true, procedure: 'P9' });
    expect(row('modbus.gateways[].rtu.data_bits')).toMatchObject({ type: 'one of `7`, `8`', defaultValue: 8 });
    expect(row('rooms[].devices[].covers').type).toBe('`site` or list of text: letters, digits, "-" and "_" only (at least 1)');
    expect(row('rooms[].scenes.<scene>.steps[].wait_ms')).toMatchObject({ type: 'whole number 0–600000', section: 'scenes' });
    expect(row('simulation.climate.winter.low_c')).toMatchObject({ type: 'number -50 to 50', defaultValue: -5 });
    expect(row('mqtt.broker.max_packet_bytes')).toMatchObject({ defaultSource: 'text', defaultText: '`262144` (256 KiB)' });
    expect(row('simulation.meetings[].title').procedure).toBe('P15');
  });

  it('gives every key a one-line description', () => {
    expect([...rows.values()].filter((r) => !r.description.trim() || /\n/.test(r.description)).map((r) => r.path)).toEqual([]);
    expect(rows.size).toBeGreaterThan(150);
  });

  it('gives every key that has a default the value the loader gives it when the key is absent', () => {
    // Every optional mapping and list given once, with only its required keys.
    const config = configSchema.parse({
      site: { id: 's', name: 'S', timezone: 'UTC' },
      mqtt: { tls: {}, broker: { users: [{ username: 'u', password: 'p' }], tls: { cert: 'c', key: 'k' } } },
      modbus: { gateways: [{ id: 'g', tcp: { host: 'h' } }] },
      influx: {},
      api: { tls: { cert: 'c', key: 'k' } },
      calendar: { level_from: {} },
      simulation: { rooms: { r: {} }, meetings: [{ id: 'm', room: 'r', start: '09:00', end: '10:00', attendees: 1 }] },
      rooms: [{}],
    });
    // Only the first item of a list is looked at: the RTU settings are looked up on a TCP gateway's copy.
    const rtu = gatewaySchema.parse({ id: 'g', rtu: { path: '/dev/x' } }).rtu;
    const room = roomSchema.parse({
      id: 'r',
      name: 'R',
      capacity: 1,
      devices: [{ name: 'd', profile: 'p', modbus: { gateway: 'g', unit: 1 } }],
      scenes: { s: { steps: [{ set: 'd.x', value: 1 }] } },
      calendar: { url: 'https://example.org/r.ics' },
    });
    const policy = resolvePolicies({ p: {} }, []).get('p')!;
    const parsed: Record<string, unknown> = { ...config, rooms: [room], modbus: { gateways: [{ ...config.modbus.gateways[0], rtu }] }, policies: { p: policy } };
    // A list's or a record's own default is seen in a config that leaves it out.
    const bare: Record<string, unknown> = { ...configSchema.parse({ site: { id: 's', name: 'S', timezone: 'UTC' }, simulation: {}, rooms: [{}] }), rooms: [roomSchema.parse({ id: 'r', name: 'R', capacity: 1 })] };
    const at = (from: unknown, path: string): unknown =>
      path.split('.').reduce<unknown>((v, seg) => {
        const [key, list] = seg.endsWith('[]') ? [seg.slice(0, -2), true] : [seg, false];
        const next = key.startsWith('<') ? Object.values((v as object | undefined) ?? {})[0] : (v as Record<string, unknown> | undefined)?.[key];
        return list ? (next as unknown[] | undefined)?.[0] : next;
      }, from);
    const checked = [...rows.values()].filter((r) => r.defaultSource === 'schema' || r.defaultSource === 'mapping' || r.defaultSource === 'applied');
    for (const r of checked) expect(at(bare, r.path) ?? at(parsed, r.path), `${r.path}: documented default ${JSON.stringify(r.defaultValue)}`).toEqual(r.defaultValue);
    expect(checked.length).toBeGreaterThan(80);
  });

  it('has a row for every key that zod’s own JSON Schema of the config lists, and no row for a key it does not', () => {
    const { paths } = jsonSchemaKeys();
    expect(paths.size).toBeGreaterThan(150);
    expect([...new Set(documented.map(wildcard))].sort()).toEqual([...paths].sort());
    expect(new Set(documented).size, 'a key is documented twice').toBe(documented.length);
  });

  it('has a row for every key config/demo.yaml uses, and the demo file is a valid config', () => {
    const demo = parse(readFileSync(resolve(root, 'config/demo.yaml'), 'utf8')) as Record<string, unknown>;
    for (const key of Object.keys(demo)) if (key.startsWith('x-')) delete demo[key];
    expect(configSchema.safeParse(demo).success).toBe(true);
    for (const room of demo.rooms as unknown[]) expect(roomSchema.safeParse(room).success).toBe(true);
    const used = new Set<string>();
    const collect = (value: unknown, at: string) => {
      if (Array.isArray(value)) value.forEach((v) => (v && typeof v === 'object' && !Array.isArray(v) ? collect(v, `${at}[]`) : undefined));
      else if (value && typeof value === 'object')
        for (const [key, v] of Object.entries(value)) {
          const path = at ? `${at}.${key}` : key;
          used.add(path);
          collect(v, path);
        }
    };
    collect(demo, '');
    // The names a site chooses (policies.vip, scenes.meeting, channels.mic) are the `<…>` of the document's paths.
    const { records } = jsonSchemaKeys();
    const named = (path: string) =>
      path.split('.').reduce((out, seg) => {
        const parent = out.replace(/\[\]$/, '');
        return out && records.has(parent) ? `${parent}.<*>${seg.endsWith('[]') ? '[]' : ''}` : out ? `${out}.${seg}` : seg;
      }, '');
    const rowsByWildcard = new Set(documented.map(wildcard));
    const missing = [...used].map(named).filter((p) => !p.endsWith('.<*>') && !rowsByWildcard.has(p));
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThan(50);
  });
});

describe('docs/procedures.md against the configuration reference', () => {
  const text = readFileSync(resolve(root, 'docs/procedures.md'), 'utf8');
  const table = [...text.matchAll(/^\| (P\d+) \|(.*)\|\s*$/gm)].map((m) => ({ id: m[1]!, where: m[2]!.split(' | ').at(-1)!.trim() }));
  /** `a.b` (value), `a.b`/`c`/`d`: each key the column names, with the default written after it. */
  const named = table.flatMap(({ id, where }) =>
    [...where.matchAll(/`([^`]+)`((?:\/`[^`]+`)*)(?:\s*\(([^)]*)\))?/g)].flatMap((m) => {
      const first = m[1]!;
      const siblings = [...(m[2] ?? '').matchAll(/`([^`]+)`/g)].map((s) => first.replace(/[^.]+$/, s[1]!));
      return [first, ...siblings].map((key) => ({ id, key, written: m[3] }));
    }),
  );
  // A policy's keys are named as inside a policy (the table's introduction says so); every other key by its full path.
  const resolveKey = (key: string) => [key, `policies.<policy>.${key}`].map((p) => rows.get(p)).find(Boolean);

  it('reads the table: sixteen procedures, and keys in the column of all but P15 (API token roles)', () => {
    expect(table.map((t) => t.id)).toEqual(Array.from({ length: 16 }, (_, i) => `P${i + 1}`));
    expect(table.filter((t) => !/`/.test(t.where)).map((t) => `${t.id}: ${t.where}`)).toEqual(['P15: API token roles']);
    expect(named.length).toBeGreaterThan(25);
  });

  it('names only keys the schema has, each documented as coming from that procedure', () => {
    for (const { id, key } of named) {
      const r = resolveKey(key);
      expect(r, `procedures.md ${id} names \`${key}\`, which is not a key of the site config`).toBeDefined();
      expect(r!.procedure?.split(/,\s*/), `${r!.path} is documented without ${id}`).toContain(id);
    }
  });

  it('writes the same default after a key as the configuration reference documents', () => {
    let compared = 0;
    for (const { id, key, written } of named) {
      if (!written) continue;
      const literal = written.replace(/^default\s+/, '').trim();
      let value: unknown;
      if (/^`[^`]*`$/.test(literal)) value = literal.slice(1, -1);
      else
        try {
          value = JSON.parse(literal);
        } catch {
          continue; // prose such as "Saturday `10:00`"
        }
      const r = resolveKey(key);
      if (!r) continue; // an unknown key is the test above's to report
      expect(r.defaultValue, `procedures.md ${id}: \`${key}\` (${written}) but docs/configuration.md documents ${JSON.stringify(r.defaultValue)}`).toEqual(value);
      compared++;
    }
    expect(compared).toBeGreaterThan(15);
  });
});
