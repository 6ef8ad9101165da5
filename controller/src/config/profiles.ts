import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { profileSchema, type DeviceProfile } from './profile-schema.ts';
import { formatProblem, problemsFromZod } from './issues.ts';

export const SHIPPED_PROFILES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../devices/profiles');

export interface ProfileLoad {
  profiles: Map<string, DeviceProfile>;
  /** One line per problem: `devices/profiles/x.yaml: points.setpoint.type: …`. Bad files are skipped. */
  errors: string[];
}

/** Loads and validates every *.yaml profile in a folder; a bad file is reported and skipped. */
export function loadProfiles(dir: string = SHIPPED_PROFILES_DIR): ProfileLoad {
  const profiles = new Map<string, DeviceProfile>();
  const errors: string[] = [];
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  } catch (err) {
    return { profiles, errors: [`${dir}: cannot read the profiles folder (${(err as Error).message})`] };
  }
  for (const file of files) {
    const path = join(dir, file);
    const shown = relative(process.cwd(), path) || path;
    const result = parseProfile(readFileSync(path, 'utf8'));
    if (!result.ok) {
      for (const e of result.errors) errors.push(`${shown}: ${e}`);
      continue;
    }
    const existing = profiles.get(result.profile.id);
    if (existing) {
      errors.push(`${shown}: id: profile id "${result.profile.id}" is already used by another file`);
      continue;
    }
    profiles.set(result.profile.id, result.profile);
  }
  return { profiles, errors };
}

export function parseProfile(text: string): { ok: true; profile: DeviceProfile } | { ok: false; errors: string[] } {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) return { ok: false, errors: doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`) };
  const parsed = profileSchema.safeParse(doc.toJS(), { reportInput: true });
  if (parsed.success) return { ok: true, profile: parsed.data };
  return { ok: false, errors: problemsFromZod(parsed.error, [], profileSchema).map(formatProblem) };
}
