import jsYaml from 'js-yaml';
import { LineCounter, parseDocument, type Document } from 'yaml';

/**
 * Reading the site file's YAML. The `yaml` library is the reference: its messages,
 * its YAML 1.2 core schema and the line of every node (`validate` prints `path:
 * message` with lines). But it builds a full document with positions, which for a
 * site of 10,000 rooms took 2.9 s and held 130 MB for as long as the load lived
 * (bench:ingest). js-yaml reads the same text into plain values in a tenth of that,
 * so the value comes from js-yaml whenever it gives what `yaml` would give, and the
 * `yaml` document is built only when a line or a YAML error message is needed.
 *
 * js-yaml is given exactly the implicit types of `yaml`'s core schema (its own core
 * schema also takes 0b…, 1_000 and the like, which `yaml` reads as strings). Anything
 * the two could read differently goes to `yaml` alone: a js-yaml error of any kind
 * (duplicate keys, unknown tags, bad indentation: `yaml` words the message), aliases
 * nested in anchored nodes or too many of them (`yaml` bounds how far aliases expand),
 * a `%` directive (`%YAML 1.1` changes the schema), and keys that js-yaml stringifies
 * its own way (null, sequence and mapping keys).
 */

const scalar = (tag: string, resolve: (s: string) => boolean, construct: (s: string) => unknown) =>
  new jsYaml.Type(`tag:yaml.org,2002:${tag}`, { kind: 'scalar', resolve: (s: string | null) => resolve(s ?? ''), construct: (s: string | null) => construct(s ?? '') });

// The tests and resolutions of yaml/dist/schema/core (null, bool, int, float), in its order.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

const CORE = jsYaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    scalar('null', (s) => NULL.test(s), () => null),
    scalar('bool', (s) => BOOL.test(s), (s) => s[0] === 't' || s[0] === 'T'),
    scalar(
      'int',
      (s) => INT_OCT.test(s) || INT.test(s) || INT_HEX.test(s),
      (s) => (INT_OCT.test(s) ? parseInt(s.substring(2), 8) : INT.test(s) ? parseInt(s, 10) : parseInt(s.substring(2), 16)),
    ),
    scalar(
      'float',
      (s) => FLOAT_NAN.test(s) || FLOAT_EXP.test(s) || FLOAT.test(s),
      (s) => (FLOAT_NAN.test(s) ? (s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? -Infinity : Infinity) : parseFloat(s)),
    ),
  ],
});

/** Keys js-yaml makes of a null key ("null"), a sequence key ("a,b") or a mapping key; `yaml` spells them otherwise. */
const ODD_KEY = /^null$|,|^\[object /;

/** The value of `text` as `yaml` (core schema, unique keys) reads it, if js-yaml is sure to agree; otherwise undefined. */
export function quickYaml(text: string): { value: unknown } | undefined {
  if (/^%/m.test(text)) return undefined;
  const anchors = text.includes('&') ? new AnchorWatch() : undefined;
  if (anchors && countOf(text, '*') > MAX_ALIASES) return undefined;
  let value: unknown;
  try {
    value = jsYaml.load(text, { schema: CORE, listener: anchors ? (event, state) => anchors.event(event, state as unknown as NodeState) : undefined });
  } catch {
    return undefined;
  }
  if (anchors?.nested || hasOddKey(value)) return undefined;
  return { value };
}

/**
 * `yaml` refuses a document whose aliases expand more than 10,000 times (load.ts's
 * maxAliasCount; a "billion laughs" guard). With no alias inside an anchored node an
 * anchor expands once per alias, and there are no more aliases than "*" characters, so
 * such a document with at most 10,000 of them is one `yaml` reads in full too.
 */
const MAX_ALIASES = 10_000;

interface NodeState {
  position: number;
  anchor: string | null;
  kind: string | null;
}

/** Sees whether an anchored node holds an alias (or an empty node, which looks the same here: refused all the same). */
class AnchorWatch {
  nested = false;
  private starts: number[] = [];
  private lastAliasAt = -1;

  event(event: string, state: NodeState): void {
    if (event === 'open') {
      this.starts.push(state.position);
      return;
    }
    const start = this.starts.pop() ?? 0;
    // js-yaml gives a node its kind (scalar, mapping, sequence) when it reads one; an alias has none.
    if (state.kind === null) this.lastAliasAt = state.position;
    else if (state.anchor !== null && this.lastAliasAt > start) this.nested = true;
  }
}

function countOf(text: string, char: string): number {
  let n = 0;
  for (let i = text.indexOf(char); i >= 0; i = text.indexOf(char, i + 1)) n++;
  return n;
}

function hasOddKey(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const item of v) if (item !== null && typeof item === 'object') stack.push(item);
      continue;
    }
    for (const key in v) {
      if (ODD_KEY.test(key)) return true;
      const item = (v as Record<string, unknown>)[key];
      if (item !== null && typeof item === 'object') stack.push(item);
    }
  }
  return false;
}

/** The `yaml` document of the text, with its line counter: for YAML errors and lines. */
export interface YamlDocument {
  doc: Document;
  lines: LineCounter;
}

export function fullYaml(text: string): YamlDocument {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  return { doc, lines };
}
