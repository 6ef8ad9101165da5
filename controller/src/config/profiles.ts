import { readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { profileSchema, type DeviceProfile } from './profile-schema.ts';
import { formatProblem, problemsFromZod } from './issues.ts';

export const SHIPPED_PROFILES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../devices/profiles');

/**
 * The profile search path: the installation's built-in profiles, then the site's own
 * `profiles_dir`. A site profile may `extends: <built-in id>` and override or add
 * points (see mergeProfile). A file that cannot be used is kept as *broken* under the
 * id it claims (and its file name): it fails only the sites whose devices name it,
 * with `file: path: message`; to every other site it is a warning.
 */
export interface ProfileCatalog {
  profiles: Map<string, DeviceProfile>;
  /** id → the problems of a file that claims it, `file: path: message`; such an id cannot be used. */
  broken: Map<string, string[]>;
  /** File-name stem → problems, for files whose id could not be read (a YAML error): `fcu-x.yaml` is likely `fcu-x`. */
  brokenFiles: Map<string, string[]>;
  /** Problems no device can be blamed for: an unreadable folder. */
  folderErrors: string[];
  /** id → the file it was loaded from, as shown in messages. */
  files: Map<string, string>;
}

export interface ProfileLoad {
  profiles: Map<string, DeviceProfile>;
  /** One line per problem: `devices/profiles/x.yaml: points.setpoint.type: …`. Bad files are skipped. */
  errors: string[];
}

/** Loads and validates every *.yaml profile in one folder; a bad file is reported and skipped. */
export function loadProfiles(dir: string = SHIPPED_PROFILES_DIR): ProfileLoad {
  const catalog = loadProfileCatalog({ builtinDir: dir });
  return { profiles: catalog.profiles, errors: [...catalog.folderErrors, ...new Set([...catalog.broken.values(), ...catalog.brokenFiles.values()].flat())] };
}

export function loadProfileCatalog(options: { builtinDir?: string; siteDir?: string }): ProfileCatalog {
  const catalog: ProfileCatalog = { profiles: new Map(), broken: new Map(), brokenFiles: new Map(), folderErrors: [], files: new Map() };
  const builtins = new Map<string, Record<string, unknown>>();
  readFolder(options.builtinDir ?? SHIPPED_PROFILES_DIR, catalog, { builtins, isBuiltin: true });
  if (options.siteDir) readFolder(options.siteDir, catalog, { builtins, isBuiltin: false });
  return catalog;
}

function readFolder(dir: string, catalog: ProfileCatalog, ctx: { builtins: Map<string, Record<string, unknown>>; isBuiltin: boolean }): void {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  } catch (err) {
    catalog.folderErrors.push(`${dir}: cannot read the profiles folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    const shown = relative(process.cwd(), path) || path;
    const stem = basename(name, extname(name));
    const fail = (claimed: unknown, problems: string[]) => {
      const lines = problems.map((p) => `${shown}: ${p}`);
      const into = typeof claimed === 'string' ? catalog.broken : catalog.brokenFiles;
      const id = typeof claimed === 'string' ? claimed : stem;
      into.set(id, [...(into.get(id) ?? []), ...lines]);
    };
    const raw = readRaw(path);
    if (!raw.ok) {
      fail(undefined, raw.errors);
      continue;
    }
    const claimed = raw.value.id;
    const taken = typeof claimed === 'string' ? catalog.files.get(claimed) : undefined;
    if (taken) {
      // Never a silent override: the site gives its variant its own id and extends the built-in.
      const advice = ctx.isBuiltin ? '' : `; give this one its own id and \`extends: ${claimed}\``;
      fail(claimed, [`id: profile id "${claimed}" is already used by ${taken}${advice}`]);
      continue;
    }
    const merged = ctx.isBuiltin ? { ok: true as const, value: raw.value } : mergeExtends(raw.value, ctx.builtins);
    if (!merged.ok) {
      fail(claimed, merged.errors);
      continue;
    }
    const parsed = profileSchema.safeParse(merged.value, { reportInput: true });
    if (!parsed.success) {
      const inherited = (p: (string | number)[]) => raw.value.extends !== undefined && getIn(raw.value, p) === undefined && getIn(merged.value, p) !== undefined;
      fail(claimed, problemsFromZod(parsed.error, [], profileSchema).map((p) => `${formatProblem(p)}${inherited(p.path) ? ` (inherited from ${String(raw.value.extends)})` : ''}`));
      continue;
    }
    const profile = parsed.data;
    catalog.profiles.set(profile.id, profile);
    catalog.files.set(profile.id, shown);
    if (ctx.isBuiltin) ctx.builtins.set(profile.id, raw.value);
  }
}

export type ProfileLookup = { profile: DeviceProfile } | { problems: string[] } | { unknown: true };

/**
 * The profile a device names: a file that claims the id but cannot be used wins over a
 * good one (two files claiming one id is ambiguous, never settled by load order).
 */
export function lookupProfile(catalog: ProfileCatalog, id: string): ProfileLookup {
  const broken = catalog.broken.get(id);
  if (broken) return { problems: broken };
  const profile = catalog.profiles.get(id);
  if (profile) return { profile };
  const file = catalog.brokenFiles.get(id);
  return file ? { problems: file } : { unknown: true };
}

function readRaw(path: string): { ok: true; value: Record<string, unknown> } | { ok: false; errors: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, errors: [`cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`] };
  }
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, errors: doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`) };
  const value = doc.toJS() as unknown;
  if (!isPlainObject(value)) return { ok: false, errors: ['(top level): expected a mapping with id, name, kind, protocol, points'] };
  return { ok: true, value };
}

/** Strips `extends` and lays the file over the built-in it names (before validation, so defaults and refinements apply to the result). */
function mergeExtends(raw: Record<string, unknown>, builtins: Map<string, Record<string, unknown>>): { ok: true; value: Record<string, unknown> } | { ok: false; errors: string[] } {
  const { extends: parent, ...own } = raw;
  if (parent === undefined) return { ok: true, value: own };
  if (typeof parent !== 'string') return { ok: false, errors: ['extends: expected the id of a built-in profile'] };
  const base = builtins.get(parent);
  if (!base) return { ok: false, errors: [`extends: no built-in profile "${parent}" (built-in: ${[...builtins.keys()].join(', ') || 'none'})`] };
  return { ok: true, value: mergeProfile(base, own) };
}

/**
 * A site profile over its built-in: mappings merge key by key, all the way down (so
 * `points: { setpoint: { modbus: { address: 7 } } }` moves one register and keeps
 * the rest of the point); lists and scalars replace; `null` removes what the built-in
 * had (`points: { mode: null }` for a unit whose mode is fixed at the plant).
 */
export function mergeProfile(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = mergeProfile(out[key] as Record<string, unknown>, value);
    else out[key] = value;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function getIn(value: unknown, path: (string | number)[]): unknown {
  let at = value;
  for (const part of path) {
    if (!at || typeof at !== 'object') return undefined;
    at = (at as Record<string | number, unknown>)[part];
  }
  return at;
}

export function parseProfile(text: string): { ok: true; profile: DeviceProfile } | { ok: false; errors: string[] } {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) return { ok: false, errors: doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`) };
  const parsed = profileSchema.safeParse(doc.toJS(), { reportInput: true });
  if (parsed.success) return { ok: true, profile: parsed.data };
  return { ok: false, errors: problemsFromZod(parsed.error, [], profileSchema).map(formatProblem) };
}
