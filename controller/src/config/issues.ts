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

/** zod issues → short sentences a building engineer can act on. */
export function problemsFromZod(error: z.ZodError, prefix: (string | number)[] = [], knownKeysAt?: (path: PropertyKey[]) => string[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case 'invalid_type':
        out.push({ path, message: input === undefined ? `required (${article(issue.expected)})` : `expected ${article(issue.expected)}, got ${describe(input)}` });
        break;
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const known = knownKeysAt?.(issue.path) ?? [];
          const guess = closest(key, known);
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
      case 'invalid_union':
        out.push({ path, message: unionMessage(issue, input) });
        break;
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
}

function unionMessage(issue: z.core.$ZodIssueInvalidUnion, input: unknown): string {
  // Show the alternative that came closest (fewest problems) instead of "Invalid input".
  const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
  if (best && best.length > 0) {
    const first = best[0]!;
    const sub = formatPath(first.path as (string | number)[]);
    return `${sub !== '(top level)' ? `${sub}: ` : ''}${first.message.replace(/^Invalid input: /, '')} (got ${describe(input)})`;
  }
  return `does not match any accepted form (got ${describe(input)})`;
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
