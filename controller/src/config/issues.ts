import type { z } from 'zod';

/** A located problem in a config or profile file, printed as `path: message`. */
export interface ConfigProblem {
  path: (string | number)[];
  message: string;
  /** 1-based line in the source file, when known. */
  line?: number;
}

/** `rooms[2].devices[0].modbus.port` — the form engineers see in errors. */
export function formatPath(path: readonly (string | number | symbol)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || '(top level)';
}

export function formatProblem(p: ConfigProblem): string {
  return `${formatPath(p.path)}: ${p.message}${p.line ? ` (line ${p.line})` : ''}`;
}

const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`);

function describe(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input);
  return `${typeof input} ${String(input)}`;
}

/**
 * zod issues → short sentences a building engineer can act on; one per mistake. A
 * misspelt key with a close known key (`timezon` → "did you mean timezone?") is the
 * whole story: the "required" zod also reports for the key it was meant to be is
 * dropped, since fixing the spelling fixes both.
 */
export function problemsFromZod(error: z.ZodError, prefix: (string | number)[] = [], schema?: z.ZodType): ConfigProblem[] {
  const meant = new Set<string>();
  const all = problemsFromIssues(error.issues, prefix, schema, [], meant);
  return all.filter((p) => !(p.message.startsWith('required') && meant.has(formatPath(p.path))));
}

function problemsFromIssues(issues: readonly z.core.$ZodIssue[], prefix: (string | number)[], schema: z.ZodType | undefined, base: PropertyKey[], meant: Set<string>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    const rel = [...base, ...issue.path];
    const path = [...prefix, ...(rel as (string | number)[])];
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case 'invalid_type':
        out.push({ path, message: input === undefined ? `required (${article(issue.expected)})` : `expected ${article(issue.expected)}, got ${describe(input)}` });
        break;
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const guess = schema ? closest(key, keysAt(schema, rel)) : undefined;
          if (guess) meant.add(formatPath([...path, guess]));
          out.push({ path: [...path, key], message: `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}` });
        }
        break;
      case 'invalid_value':
        out.push({ path, message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(input)}` });
        break;
      case 'too_small':
        out.push({ path, message: issue.origin === 'array' ? `needs at least ${issue.minimum} item(s)` : issue.origin === 'string' ? 'must not be empty' : `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}, got ${describe(input)}` });
        break;
      case 'too_big':
        out.push({ path, message: issue.origin === 'array' ? `has more than ${issue.maximum} items` : `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}, got ${describe(input)}` });
        break;
      case 'invalid_union': {
        // Explain the alternative that came closest (fewest problems), in the same terms.
        const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
        if (best && best.length > 0) out.push(...problemsFromIssues(best, prefix, schema, rel, meant));
        else out.push({ path, message: `does not match any accepted form (got ${describe(input)})` });
        break;
      }
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
}

/** The keys an object schema accepts at a path inside `schema` (all union alternatives merged). */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let nodes: unknown[] = [schema];
  for (const part of [...path, null]) {
    const next: unknown[] = [];
    for (const node of nodes.flatMap(unwrap)) {
      const def = (node as { _zod: { def: Record<string, unknown> } })._zod.def;
      if (part === null) {
        if (def.type === 'object') next.push(...Object.keys(def.shape as object));
        continue;
      }
      if (def.type === 'object') {
        const child = (def.shape as Record<string, unknown>)[String(part)];
        if (child) next.push(child);
      } else if (def.type === 'array' && typeof part === 'number') next.push(def.element);
      else if (def.type === 'record') next.push(def.valueType);
    }
    if (part === null) return next as string[];
    nodes = next;
  }
  return [];
}

/** Looks through wrappers (optional, default, pipe, union…) to the schemas that hold keys. */
function unwrap(node: unknown): unknown[] {
  const def = (node as { _zod?: { def: Record<string, unknown> } })._zod?.def;
  if (!def) return [];
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return unwrap(def.innerType);
    case 'pipe':
      return unwrap(def.in);
    case 'union':
      return (def.options as unknown[]).flatMap(unwrap);
    default:
      return [node];
  }
}

/** The known key closest to a typo, if it is close enough to be a likely slip. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
