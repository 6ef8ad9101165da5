import { resolve } from 'node:path';
import { loadProfileCatalog, lookupProfile, type ProfileCatalog } from './profiles.ts';
import { checkKindContract, type ContractFindings } from './kind-contracts.ts';
import { closest, type ConfigProblem } from './issues.ts';
import type { DeviceProfile } from './profile-schema.ts';

/**
 * The profiles this site's devices can name (built-in, then `profiles_dir`), and what
 * of them gets reported: a broken file or a kind contract that is not met fails the
 * devices that name the profile; a broken file nobody here names is a warning.
 */
export class SiteProfiles {
  private used = new Set<string>();
  private contracts = new Map<string, ContractFindings>();
  constructor(readonly catalog: ProfileCatalog) {}

  /** The profile a device names, or why it cannot have it. */
  use(id: string): { profile: DeviceProfile } | { message: string } {
    this.used.add(id);
    const found = lookupProfile(this.catalog, id);
    if ('problems' in found) return { message: `profile "${id}" cannot be used: its file has problems (listed first)` };
    if ('unknown' in found) return { message: `unknown profile "${id}"${hint(id, [...this.catalog.profiles.keys()])}` };
    return found;
  }

  /** The engine's contract for the profile's kind, checked once per profile. */
  contract(profile: DeviceProfile): ContractFindings {
    let c = this.contracts.get(profile.id);
    if (!c) this.contracts.set(profile.id, (c = checkKindContract(profile)));
    return c;
  }

  private problemsOf(id: string): string[] {
    const found = lookupProfile(this.catalog, id);
    return 'problems' in found ? found.problems : [];
  }

  errors(): string[] {
    return [...this.catalog.folderErrors, ...new Set([...this.used].flatMap((id) => this.problemsOf(id)))];
  }

  warnings(): string[] {
    const reported = new Set(this.errors());
    const unused = [...this.catalog.broken.values(), ...this.catalog.brokenFiles.values()].flat().filter((line) => !reported.has(line));
    const contract = [...this.contracts.values()].flatMap((c) => c.warnings);
    return [...contract, ...new Set(unused.map((line) => `${line} (no device of this site uses it)`))];
  }
}

export function siteProfiles(raw: Record<string, unknown>, options: { profilesDir?: string; baseDir?: string }, problems: ConfigProblem[]): SiteProfiles {
  const dir = raw.profiles_dir;
  // A profiles_dir that is not a string is the schema's error; here it only means "no site folder".
  const siteDir = typeof dir === 'string' && dir.length > 0 ? resolve(options.baseDir ?? process.cwd(), dir) : undefined;
  const catalog = loadProfileCatalog({ builtinDir: options.profilesDir, siteDir });
  if (siteDir) {
    const unreadable = catalog.folderErrors.findIndex((e) => e.startsWith(`${siteDir}:`));
    if (unreadable >= 0) {
      problems.push({ path: ['profiles_dir'], message: catalog.folderErrors[unreadable]!.slice(siteDir.length + 2) + ` (${siteDir})` });
      catalog.folderErrors.splice(unreadable, 1);
    }
  }
  return new SiteProfiles(catalog);
}

/** ` (did you mean "x"?)`, or the short list of what is known, for an unknown name. */
export function hint(word: string, known: string[]): string {
  const guess = closest(word, known);
  return guess ? ` (did you mean "${guess}"?)` : known.length > 0 && known.length <= 12 ? ` (known: ${known.join(', ')})` : '';
}
