import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, parseDocument } from 'yaml';
import { z } from 'zod';
import { loadConfigText, type Site } from '../config/load.ts';
import { policyFields } from '../config/policy-schema.ts';
import type { HvacStrategy } from '../engine/hvac/hvac-start.ts';
import { MAX_PRECONDITION_MINUTES } from '../engine/hvac/optimal-start.ts';

/**
 * A what-if policy for `roomctl sim run --policy FILE`: the same building and bookings,
 * another way of running them. The file names what differs from the config, nothing else:
 *
 *   name: fixed 2 h pre-start          # a label for the table (default: the file name)
 *   hvac_start: { fixed_minutes: 120 } # or `optimal` (what roomctl does, P5)
 *   policies:                          # merged over the config's policies, key by key
 *     default: { lead_minutes: { ready: 20 }, setback_c: 3 }
 *
 * A policy key given here replaces that key of the config's policy; keys not given keep
 * the config's value; a policy the config does not have is added. The merged config is
 * loaded and validated like any other, so a what-if cannot run a room on settings that
 * `roomctl start` would refuse.
 */
export interface WhatIf {
  name: string;
  file: string;
  /** The site with the file's policies merged in. */
  site: Site;
  /** Absent: as roomctl runs (optimal start). */
  hvac?: HvacStrategy;
}

const whatIfSchema = z.strictObject({
  name: z.string().min(1).optional(),
  hvac_start: z
    .union([
      z.literal('optimal'),
      z.strictObject({ fixed_minutes: z.number().int().min(0).max(MAX_PRECONDITION_MINUTES, `at most ${MAX_PRECONDITION_MINUTES} (the longest pre-conditioning window)`) }),
    ])
    .optional(),
  policies: z.record(z.string().min(1), policyFields).optional(),
});

const where = (path: readonly PropertyKey[]) => path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');

/** Reads the what-if file and merges it into the config file's text; every problem as `file: path: message`. */
export function readWhatIf(file: string, configFile: string, site: Site): { whatIf?: WhatIf; errors: string[] } {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    return { errors: [`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message.split('\n')[0]}`] };
  }
  const parsed = whatIfSchema.safeParse(raw ?? {});
  if (!parsed.success) return { errors: parsed.error.issues.map((i) => `${file}: ${where(i.path) || '(top level)'}: ${i.message}`) };
  const spec = parsed.data;
  const doc = parseDocument(readFileSync(configFile, 'utf8'));
  for (const [policy, fields] of Object.entries(spec.policies ?? {})) for (const [path, value] of leaves(fields)) doc.setIn(['policies', policy, ...path], value);
  const load = loadConfigText(String(doc), { baseDir: dirname(resolve(configFile)) });
  if (!load.site) return { errors: load.errors.map((e) => `${configFile} with ${file} merged in: ${e}`) };
  // A policy no room runs on (a name typed wrong, `default` when every room names another) would compare a day with itself.
  const policiesOf = (s: Site) => JSON.stringify(s.rooms.map((r) => r.policy));
  if (spec.policies && policiesOf(load.site) === policiesOf(site)) {
    const used = [...new Set(site.config.rooms.map((r) => (r as { policy?: string }).policy ?? 'default'))].join(', ');
    return { errors: [`${file}: policies: changes no room's policy (${Object.keys(spec.policies).join(', ')}); the rooms run on: ${used}`] };
  }
  const hvac: HvacStrategy | undefined = spec.hvac_start === undefined ? undefined : spec.hvac_start === 'optimal' ? { kind: 'optimal' } : { kind: 'fixed', minutesBeforeStart: spec.hvac_start.fixed_minutes };
  return { whatIf: { name: spec.name ?? file.split('/').pop()!, file, site: load.site, hvac }, errors: [] };
}

/** Paths to every value that is not a plain object (a list or a band replaces the config's whole). */
function leaves(value: Record<string, unknown>, prefix: string[] = []): [string[], unknown][] {
  const out: [string[], unknown][] = [];
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...leaves(v as Record<string, unknown>, [...prefix, k]));
    else out.push([[...prefix, k], v]);
  }
  return out;
}
