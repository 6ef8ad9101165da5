import type { z } from 'zod';
import { globalRegistry } from 'zod';

/**
 * How a zod schema's type reads in the configuration reference: "whole number
 * 1–65535", "one of `zh-CN`, `en`", "list of text", "HH:MM". Read from zod 4's
 * `_zod.def` (type, checks, options, entries), so a changed bound or enum value changes
 * the page; a schema can say it better with `.meta({ type })`.
 */
export type Def = Record<string, unknown> & { type: string; checks?: { _zod: { def: Record<string, unknown> } }[] };

export const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** The schema under its wrappers (optional, default, prefault …) and every layer from the outside in. */
export function peel(schema: z.ZodType): { core: z.ZodType; layers: z.ZodType[] } {
  const layers: z.ZodType[] = [schema];
  let node = schema;
  for (;;) {
    const def = defOf(node);
    if (WRAPPERS.has(def.type)) node = def.innerType as z.ZodType;
    else if (def.type === 'pipe') node = def.in as z.ZodType;
    else break;
    layers.push(node);
  }
  return { core: node, layers };
}

/** The message a check was given (`.regex(re, 'a time as HH:MM')`, `.refine(fn, '…')`), if it is a fixed one. */
function messageOf(check: { _zod: { def: Record<string, unknown> } }): string | undefined {
  const error = check._zod.def.error;
  if (typeof error !== 'function') return undefined;
  try {
    const out = (error as (issue: unknown) => unknown)({ code: 'custom', input: undefined, path: [] });
    if (typeof out === 'string') return out;
    if (out && typeof out === 'object' && typeof (out as { message?: unknown }).message === 'string') return (out as { message: string }).message;
  } catch {
    // A message computed from the input is not a rule that can be written down.
  }
  return undefined;
}

/** The fixed messages of the refinements on any layer (superRefine's messages depend on the value: left out). */
export function rulesOf(layers: z.ZodType[]): string[] {
  const out: string[] = [];
  for (const layer of layers)
    for (const check of defOf(layer).checks ?? []) {
      if (check._zod.def.check !== 'custom') continue;
      const message = messageOf(check);
      if (message && !out.includes(message)) out.push(message);
    }
  return out;
}

const code = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

function stringText(def: Def): string {
  let base = 'text';
  const notes: string[] = [];
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'string_format' && c.format === 'url') base = 'URL';
    else if (c.check === 'string_format' && c.format === 'regex') notes.push(messageOf(check) ?? `matching ${code(String((c.pattern as RegExp).source))}`);
    else if (c.check === 'min_length' && notes.length === 0 && Number(c.minimum) === 1) notes.push('not empty');
    else if (c.check === 'min_length') notes.push(`at least ${c.minimum} characters`);
    else if (c.check === 'max_length') notes.push(`at most ${c.maximum} characters`);
  }
  // "not empty" says nothing a pattern does not already say.
  const said = notes.length > 1 ? notes.filter((n) => n !== 'not empty') : notes;
  return said.length ? `${base}: ${said.join('; ')}` : base;
}

function numberText(def: Def): string {
  let whole = false;
  let min: { value: number; inclusive: boolean } | undefined;
  let max: { value: number; inclusive: boolean } | undefined;
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'number_format' && /int/.test(String(c.format))) whole = true;
    else if (c.check === 'greater_than') min = { value: Number(c.value), inclusive: !!c.inclusive };
    else if (c.check === 'less_than') max = { value: Number(c.value), inclusive: !!c.inclusive };
  }
  const base = whole ? 'whole number' : 'number';
  if (min?.inclusive && max?.inclusive) return `${base} ${min.value}${min.value < 0 ? ' to ' : '–'}${max.value}`;
  const bounds = [min && `${min.inclusive ? '≥' : '>'} ${min.value}`, max && `${max.inclusive ? '≤' : '<'} ${max.value}`].filter(Boolean);
  return bounds.length ? `${base} ${bounds.join(', ')}` : base;
}

/** "list of whole numbers 1–12": the first word of an element's type in the plural. */
function plural(text: string): string {
  const forms: [RegExp, string][] = [
    [/^whole number/, 'whole numbers'],
    [/^number/, 'numbers'],
    [/^mapping/, 'mappings'],
    [/^URL/, 'URLs'],
    [/^id\b/, 'ids'],
  ];
  for (const [re, to] of forms) if (re.test(text)) return text.replace(re, to);
  return text;
}

function sizeNote(def: Def): string {
  const notes: string[] = [];
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'min_length') notes.push(`at least ${c.minimum}`);
    if (c.check === 'max_length') notes.push(`at most ${c.maximum}`);
  }
  return notes.length ? ` (${notes.join(', ')})` : '';
}

/** A type as a user would say it; `element` stands in for a list's declared element (the config's `rooms`). */
export function typeText(schema: z.ZodType, element?: z.ZodType): string {
  const { core, layers } = peel(schema);
  let keyName = 'name';
  for (const layer of [...layers].reverse()) {
    const meta = globalRegistry.get(layer) as { type?: unknown; key?: unknown } | undefined;
    if (typeof meta?.key === 'string') keyName = meta.key;
  }
  for (const layer of layers) {
    const said = (globalRegistry.get(layer) as { type?: unknown } | undefined)?.type;
    if (typeof said === 'string') return said;
  }
  const def = defOf(core);
  switch (def.type) {
    case 'string':
      return stringText(def);
    case 'number':
      return numberText(def);
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${Object.values(def.entries as Record<string, unknown>).map(code).join(', ')}`;
    case 'literal':
      return (def.values as unknown[]).map(code).join(', ');
    case 'union': {
      const options = def.options as z.ZodType[];
      if (options.every((o) => defOf(peel(o).core).type === 'literal')) return `one of ${options.map((o) => typeText(o)).join(', ')}`;
      const texts = [...new Set(options.map((o) => typeText(o)))];
      if (texts.length === 1 && texts[0] === 'mapping') return 'mapping, in one of the forms below';
      return texts.join(' or ');
    }
    case 'array':
    {
      const item = typeText(element ?? (def.element as z.ZodType));
      // "list of whole numbers ≥ 1 or text" would read as a list or a text.
      return `${item.includes(' or ') ? `list, each ${item}` : `list of ${plural(item)}`}${sizeNote(def)}`;
    }
    case 'tuple':
      return `[${(def.items as z.ZodType[]).map((i) => typeText(i)).join(', ')}]`;
    case 'record': {
      const key = typeText(def.keyType as z.ZodType);
      const value = typeText(def.valueType as z.ZodType);
      return `mapping of \`<${keyName}>\` → ${value}${key === 'text' ? '' : ` (\`<${keyName}>\`: ${key})`}`;
    }
    case 'object':
      return 'mapping';
    case 'unknown':
    case 'any':
      return 'anything';
    default:
      return def.type;
  }
}
