import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { readPointsTable } from '../config/points-list-columns.ts';
import { buildPointsList, type ListedGateway } from '../config/points-list.ts';
import { planProfiles } from '../config/points-list-profiles.ts';
import { loadProfiles } from '../config/profiles.ts';
import { isTimeZone } from './init.ts';
import { mergeIntoConfig, siteConfigText, type WrittenRoom } from './site-config-writer.ts';
import { validateCommand } from './validate.ts';

/**
 * `roomctl import points.csv --out site.yaml [--into init.yaml | --site-id ID --timezone TZ]`:
 * a BMS points list → rooms, devices and the site profiles they need (config/points-list*.ts),
 * written as a site config (fresh, or merged into `--into`) and `<profiles_dir>/<id>.yaml`,
 * then validated. Every row it cannot place is printed with its row number and why; the
 * rest is written. Exit 0: all placed and valid; 3: written and valid, but rows were left
 * out; 1: the result does not validate or nothing could be placed; 2: bad arguments.
 */
export interface ImportOptions {
  out?: string;
  into?: string;
  siteId?: string;
  name?: string;
  timezone?: string;
  language?: string;
  profilesDir?: string;
  force?: boolean;
}

const HEADER = '# Written by `roomctl import`';
const DEFAULT_CAPACITY = 12;

export function importCommand(csv: string, opts: ImportOptions, out: (line: string) => void = console.log, err: (line: string) => void = console.error): number {
  const target = opts.out ?? opts.into;
  if (!target) return usage(err, 'give --out FILE (and --into FILE to merge into a config from `roomctl init`)');
  if (!opts.into && (!opts.siteId || !opts.timezone)) return usage(err, 'a new config needs --site-id and --timezone (or give --into FILE from `roomctl init`)');
  if (opts.timezone && !isTimeZone(opts.timezone)) return usage(err, `--timezone: "${opts.timezone}" is not an IANA time zone (e.g. Asia/Shanghai, Europe/Berlin)`);
  if (opts.siteId && !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(opts.siteId)) return usage(err, `--site-id: "${opts.siteId}": letters, digits, "-" and "_" only`);
  if (existsSync(target) && !opts.force && resolve(target) !== resolve(opts.into ?? '')) return usage(err, `--out: ${target} exists; give --force to overwrite it, or --into ${target} to merge into it`);
  let text: string;
  try {
    text = readFileSync(csv, 'utf8');
  } catch (e) {
    err(`${csv}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return 1;
  }
  const existing = opts.into ? readInto(opts.into, err) : undefined;
  if (existing === null) return 1;
  const table = readPointsTable(text, csv);
  for (const e of table.errors) err(e);
  if (table.errors.length) return 1;
  if (table.ignoredHeaders.length) err(`${csv}: columns ignored (not ours): ${table.ignoredHeaders.join(', ')}`);

  const builtins = loadProfiles().profiles;
  const siteId = opts.siteId ?? existing?.siteId ?? 'site';
  const list = buildPointsList(table, builtins, existing?.gateways ?? []);
  const devices = list.rooms.flatMap((r) => r.devices);
  const plan = planProfiles(devices, builtins, siteId);
  const unplaced = [...list.unplaced, ...plan.unplaced].sort((a, b) => a.row - b.row);
  const placedRows = new Set(plan.placed.flatMap((p) => p.device.points.map((x) => x.row)));
  const rooms: WrittenRoom[] = list.rooms
    .map((r) => ({ id: r.id, name: r.id, capacity: r.capacity ?? DEFAULT_CAPACITY, devices: plan.placed.filter((p) => p.device.room === r.id).sort((a, b) => a.device.points[0]!.row - b.device.points[0]!.row).map((p) => p.entry), comment: `from ${csvName(csv, target)}` }))
    .filter((r) => r.devices.length > 0);
  const usedGateways = new Set(plan.placed.flatMap((p) => (p.device.modbus ? [p.device.modbus.gateway] : [])));
  const gateways = list.gateways.filter((g): g is Required<ListedGateway> => usedGateways.has(g.id) && !!g.host).map((g) => ({ id: g.id, host: g.host, port: g.port }));

  out(`${csv}: ${table.rows.length} rows → ${rooms.length} room${rooms.length === 1 ? '' : 's'}, ${plan.placed.length} devices (${plan.placed.length - plan.placed.filter((p) => plan.profiles.some((s) => s.id === p.entry.profile)).length} on built-in profiles, the rest on ${plan.profiles.length} site profile${plan.profiles.length === 1 ? '' : 's'}), ${gateways.length} new Modbus gateway${gateways.length === 1 ? '' : 's'}; ${placedRows.size} rows placed`);
  for (const r of rooms) out(`  ${r.id}: ${r.devices.map((d) => `${d.name} (${d.profile})`).join(', ')}`);
  if (unplaced.length) {
    err(`${csv}: ${unplaced.length} row${unplaced.length === 1 ? '' : 's'} not placed:`);
    for (const u of unplaced) err(`  row ${u.row}: ${u.why}`);
  }
  if (rooms.length === 0) {
    err(`${csv}: no device could be placed; nothing written`);
    return 1;
  }

  const profilesDir = existing?.profilesDir ?? opts.profilesDir ?? 'profiles';
  const dir = resolve(dirname(resolve(target)), profilesDir);
  const files = plan.profiles.map((p) => ({ path: join(dir, `${p.id}.yaml`), p }));
  for (const f of files)
    if (existsSync(f.path) && !opts.force && !readFileSync(f.path, 'utf8').startsWith(HEADER)) {
      err(`${f.path} exists and was not written by roomctl import; give --force to overwrite it`);
      return 1;
    }
  let config: string;
  if (existing) {
    const merged = mergeIntoConfig(existing.text, { rooms, gateways, profilesDir: plan.profiles.length ? profilesDir : undefined });
    if ('error' in merged) {
      err(`${opts.into}: ${merged.error}`);
      return 1;
    }
    config = merged.text;
    for (const n of merged.notes) out(`  ${n}`);
  } else {
    config = siteConfigText({
      origin: `written by \`roomctl import ${csvName(csv, target)}\`: the rooms and devices of the points list.`,
      site: { id: siteId, name: opts.name ?? siteId, timezone: opts.timezone!, language: opts.language ?? 'zh-CN' },
      gateways,
      profilesDir: plan.profiles.length ? profilesDir : undefined,
      rooms,
      simDay: '2026-07-15',
    });
  }
  if (files.length) mkdirSync(dir, { recursive: true });
  for (const { path, p } of files) {
    const rows = compactRows(p.rows);
    writeFileSync(path, `${HEADER} from ${csvName(csv, path)} (row${/[,–]/.test(rows) ? 's' : ''} ${rows}); used by ${p.usedBy.join(', ')}.\n# Edit it freely (docs/device-profiles.md); a new import overwrites it.\n${stringify(p.profile, { lineWidth: 0 })}`);
  }
  writeFileSync(target, config);
  out(`wrote ${[target, ...files.map((f) => relative(process.cwd(), f.path) || f.path)].join(', ')}`);
  // validate prints the profiles' warnings (what the engine will not do without a point).
  const valid = validateCommand(target, out, err);
  if (valid !== 0) return 1;
  return unplaced.length ? 3 : 0;
}

function usage(err: (line: string) => void, message: string): number {
  err(`roomctl import: ${message}`);
  return 2;
}

function readInto(file: string, err: (line: string) => void): { text: string; siteId?: string; profilesDir?: string; gateways: ListedGateway[] } | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    err(`--into ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return null;
  }
  const doc = parseDocument(text);
  if (doc.errors.length) {
    err(`--into ${file}: YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    return null;
  }
  const js = (doc.toJS() ?? {}) as { site?: { id?: string }; profiles_dir?: string; modbus?: { gateways?: { id: string; tcp?: { host: string; port?: number } }[] } };
  const gateways = (js.modbus?.gateways ?? []).map((g) => ({ id: g.id, host: g.tcp?.host, port: g.tcp?.port ?? 502 }));
  return { text, siteId: js.site?.id, profilesDir: js.profiles_dir, gateways };
}

/** The points list as named from where a file is written: `../points.csv`. */
const csvName = (csv: string, from: string) => relative(dirname(resolve(from)), resolve(csv)) || csv;

/** 2, 3, 4, 7, 8 → "2–4, 7–8". */
function compactRows(rows: number[]): string {
  const sorted = [...new Set(rows)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j > i ? `${sorted[i]}–${sorted[j]}` : `${sorted[i]}`);
    i = j;
  }
  return parts.join(', ');
}
