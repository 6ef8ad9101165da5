import type { z } from 'zod';
import { globalRegistry } from 'zod';
import { defOf, peel, rulesOf, typeText, type Def } from './reference-types.ts';

/**
 * Walks a zod schema into the rows of a configuration reference: every key with its
 * path, its type as a user would say it, its default, whether it is required, and the
 * description and procedure id that the schema carries in `.meta()`. Defaults come from
 * the schema itself (each key is parsed from "absent"), so what is documented is what
 * the loader does, through `.default`, `.prefault`, `.optional` and refinements alike.
 * The wording of types is in reference-types.ts; the page in reference-doc.ts.
 */

/** What a schema may say about itself through `.meta({ … })`, besides zod's own keys. */
export interface ReferenceMeta {
  description?: string;
  /** The service procedure (docs/procedures.md) a key comes from: `P5`, `P2, P16`. The keys inside inherit it. */
  procedure?: string;
  /** How the type reads, when the derived wording says less (e.g. `HH:MM`). */
  type?: string;
  /** A default the code applies where the value is used (the schema leaves the key absent). */
  defaultText?: string;
  /** The placeholder of a record's keys in paths: `policy` → `policies.<policy>.…`. */
  key?: string;
  /** Starts a section of its own (e.g. devices, inside rooms). */
  section?: string;
}

export interface ReferenceRow {
  /** `rooms[].devices[].modbus.unit`, `policies.<policy>.lead_minutes.ready`. */
  path: string;
  section: string;
  type: string;
  /** The value the key takes when absent, if it has one. */
  defaultValue?: unknown;
  /** Where that came from: the key's schema, the object default of the mapping around it, an applied-defaults table, or prose. */
  defaultSource?: 'schema' | 'mapping' | 'applied' | 'text';
  defaultText?: string;
  /** Must be given whenever the mapping that holds it is given. */
  required: boolean;
  description: string;
  procedure?: string;
  /** Fixed messages of the refinements on this key (e.g. "give either gateway or host"). */
  rules: string[];
  /** A mapping, a record or a list of mappings: its keys have rows of their own. */
  container: boolean;
}

export interface ReferenceSection {
  name: string;
  intro?: string;
  rows: ReferenceRow[];
}

export interface WalkOptions {
  /** Schemas documented in place of a list's declared elements (the config's `rooms` are `unknown[]`, validated room by room). */
  elements?: Record<string, z.ZodType>;
  /** Defaults applied after parsing, by the path of the mapping they fill: `policies.<policy>` → DEFAULT_POLICY. */
  applied?: Record<string, unknown>;
  /** The section of top-level keys that are not mappings. */
  topLevelSection?: string;
}

interface Context {
  section: string;
  procedure?: string;
  /** This key's value inside the object default of the mapping around it. */
  inherited?: unknown;
  /** This key's value in an applied-defaults table. */
  applied?: unknown;
}

const metaOf = (layers: z.ZodType[]): ReferenceMeta => {
  const merged: ReferenceMeta = {};
  for (const layer of [...layers].reverse()) Object.assign(merged, globalRegistry.get(layer) ?? {});
  return merged;
};

/** Mappings, records of mappings and unions of mappings have keys of their own. */
function isContainer(def: Def): boolean {
  if (def.type === 'object') return true;
  if (def.type === 'record') return isContainer(defOf(peel(def.valueType as z.ZodType).core));
  if (def.type === 'union') return (def.options as z.ZodType[]).some((o) => defOf(peel(o).core).type === 'object');
  return false;
}

function parseAbsent(schema: z.ZodType): { success: boolean; data?: unknown } {
  try {
    return schema.safeParse(undefined);
  } catch {
    return { success: false };
  }
}

const pick = (v: unknown, key: string) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined);

/** Every key of `root`, in schema order, grouped into sections (a path's first key, or a `.meta({ section })`). */
export function walkSchema(root: z.ZodType, options: WalkOptions = {}): ReferenceSection[] {
  const sections = new Map<string, ReferenceSection>();
  const rows = new Map<string, ReferenceRow>();
  const top = options.topLevelSection ?? 'top level';

  const add = (row: ReferenceRow, intro: string | undefined) => {
    let section = sections.get(row.section);
    if (!section) sections.set(row.section, (section = { name: row.section, rows: [] }));
    if (intro && !section.intro && section.rows.length === 0) section.intro = intro;
    const same = rows.get(row.path);
    if (same) {
      // A key of several union forms is one row: required only if every form requires it.
      same.required &&= row.required;
      for (const r of row.rules) if (!same.rules.includes(r)) same.rules.push(r);
      return;
    }
    rows.set(row.path, row);
    section.rows.push(row);
  };

  /** The keys inside a mapping (or each form of a union, or each value of a record) at `at`. */
  const descend = (node: z.ZodType, at: string, ctx: Context, keyName: string) => {
    const def = defOf(peel(node).core);
    if (def.type === 'object') {
      const applied = options.applied && at in options.applied ? options.applied[at] : ctx.applied;
      for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>))
        visit(child, at ? `${at}.${key}` : key, { ...ctx, inherited: pick(ctx.inherited, key), applied: pick(applied, key) });
    } else if (def.type === 'union') {
      for (const option of def.options as z.ZodType[]) if (defOf(peel(option).core).type === 'object') descend(option, at, ctx, keyName);
    } else if (def.type === 'record') {
      const value = def.valueType as z.ZodType;
      if (isContainer(defOf(peel(value).core))) descend(value, `${at}.<${keyName}>`, { ...ctx, inherited: undefined }, metaOf(peel(value).layers).key ?? 'name');
    }
  };

  const visit = (field: z.ZodType, path: string, ctx: Context) => {
    const { core, layers } = peel(field);
    const def = defOf(core);
    let meta = metaOf(layers);
    // A list of mappings is one row; the element's own meta fills in what the list's leaves out.
    let element = def.type === 'array' ? (options.elements?.[path] ?? (def.element as z.ZodType)) : undefined;
    if (element && !isContainer(defOf(peel(element).core))) element = undefined;
    if (element) meta = { ...metaOf(peel(element).layers), ...meta };
    // Likewise a record of mappings and the mapping it holds (policies and policyFields).
    if (def.type === 'record' && isContainer(def)) meta = { ...metaOf(peel(def.valueType as z.ZodType).layers), ...meta };
    const depth = path.split('.').length;
    const container = isContainer(def) || !!element;
    const section = meta.section ?? (depth === 1 ? (container ? path : top) : ctx.section);
    const procedure = meta.procedure ?? ctx.procedure;

    const absent = parseAbsent(field);
    const row: ReferenceRow = {
      path,
      section,
      type: typeText(field, options.elements?.[path]),
      required: !absent.success,
      description: meta.description ?? '',
      procedure,
      rules: [...rulesOf(layers), ...(element ? rulesOf(peel(element).layers) : [])],
      container,
    };
    // A mapping filled from `.prefault({})` has no default of its own to speak of: its keys do.
    const prefaulted = container && layers.some((l) => defOf(l).type === 'prefault');
    if (absent.success && absent.data !== undefined && !prefaulted) Object.assign(row, { defaultValue: absent.data, defaultSource: 'schema' });
    else if (ctx.inherited !== undefined) Object.assign(row, { defaultValue: ctx.inherited, defaultSource: 'mapping' });
    else if (ctx.applied !== undefined && !container) Object.assign(row, { defaultValue: ctx.applied, defaultSource: 'applied' });
    else if (meta.defaultText) Object.assign(row, { defaultText: meta.defaultText, defaultSource: 'text' });
    add(row, meta.section !== undefined || (depth === 1 && container) ? meta.description : undefined);

    const inner: Context = { section, procedure, inherited: row.defaultSource === 'schema' || row.defaultSource === 'mapping' ? row.defaultValue : undefined, applied: ctx.applied };
    if (element) descend(element, `${path}[]`, { ...inner, inherited: undefined }, 'name');
    else if (container) descend(core, path, inner, meta.key ?? 'name');
  };

  const rootDef = defOf(peel(root).core);
  if (rootDef.type !== 'object') throw new Error(`walkSchema: the root must be an object schema, not ${rootDef.type}`);
  descend(root, '', { section: top }, 'name');
  return [...sections.values()];
}
