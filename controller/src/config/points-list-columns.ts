import { parse } from 'csv-parse/sync';

/**
 * The columns of a BMS points list (the spreadsheet an integrator hands over: one row
 * per point) and the header spellings accepted for each. Headers are matched
 * case-insensitively with spaces, dashes, dots, slashes and underscores ignored, so
 * "Unit ID", "unit_id" and "UNIT-ID" are one column. A header that is none of these
 * is ignored (lists carry notes, panel numbers, cable ids…) and reported once.
 *
 * "Unit" alone is the Modbus unit (slave) id, as integrators write it beside the
 * gateway; the engineering unit is "Units", "Eng. unit" or "UoM".
 */
export const COLUMNS = {
  room: ['room', 'room id', 'space', 'location', 'meeting room'],
  device: ['device', 'device name', 'equipment', 'asset', 'equipment name'],
  kind: ['kind', 'device kind', 'device type', 'equipment type', 'system', 'category'],
  model: ['model', 'product', 'device model'],
  protocol: ['protocol', 'proto', 'bus', 'interface'],
  gateway: ['gateway', 'gateway id', 'gw', 'host', 'ip', 'ip address', 'host port', 'gateway host', 'server'],
  unit: ['unit', 'unit id', 'slave', 'slave id', 'slave address', 'station', 'modbus id', 'device address'],
  table: ['table', 'register type', 'object type', 'reg type', 'function'],
  address: ['register', 'address', 'register address', 'reg', 'addr', 'offset', 'register no', 'register number'],
  topic: ['topic', 'mqtt topic', 'state topic'],
  path: ['path', 'json path', 'field', 'json field', 'key'],
  command_topic: ['command topic', 'set topic', 'write topic', 'cmd topic'],
  point: ['point', 'point name', 'name', 'signal', 'tag'],
  type: ['type', 'data type', 'datatype', 'format', 'value type'],
  scale: ['scale', 'scaling', 'factor', 'multiplier', 'gain'],
  values: ['values', 'states', 'enum', 'value map', 'state text'],
  writable: ['writable', 'access', 'rw', 'read write', 'r w'],
  units: ['units', 'eng unit', 'engineering unit', 'engineering units', 'uom'],
  min: ['min', 'minimum', 'low limit', 'range min'],
  max: ['max', 'maximum', 'high limit', 'range max'],
  capacity: ['capacity', 'seats'],
} as const;

export type Column = keyof typeof COLUMNS;

/** One data row: its row number in the file (the header is row 1) and its cells by column. */
export interface PointRow {
  row: number;
  cells: Partial<Record<Column, string>>;
}

export interface PointsTable {
  rows: PointRow[];
  /** Headers that are no column of ours (`Panel`, `Notes`…): ignored, and said so. */
  ignoredHeaders: string[];
  /** Problems with the file as a whole (no header, a required column missing, two headers for one column). */
  errors: string[];
}

const squash = (h: string) => h.toLowerCase().replace(/[\s_.\/\\-]+/g, '');
const BY_SPELLING = new Map<string, Column>(Object.entries(COLUMNS).flatMap(([col, names]) => names.map((n) => [squash(n), col as Column] as const)));

/** Which column a header names, if any. */
export function columnOf(header: string): Column | undefined {
  return BY_SPELLING.get(squash(header));
}

/** Parses the CSV text (comma, semicolon or tab separated, as spreadsheets export it). */
export function readPointsTable(text: string, file: string): PointsTable {
  const errors: string[] = [];
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, delimiter: sniffDelimiter(text), relax_column_count: true, skip_empty_lines: true, trim: true, info: true }) as unknown as typeof records;
  } catch (err) {
    return { rows: [], ignoredHeaders: [], errors: [`${file}: not a readable CSV file (${(err as Error).message})`] };
  }
  const header = records.shift();
  if (!header) return { rows: [], ignoredHeaders: [], errors: [`${file}: empty: expected a header row (Room, Device, Protocol, …) and one row per point`] };
  const columns: (Column | undefined)[] = [];
  const ignoredHeaders: string[] = [];
  const seen = new Map<Column, string>();
  for (const h of header.record) {
    const col = columnOf(h);
    if (col && seen.has(col)) {
      errors.push(`${file}: row ${header.info.lines}: headers "${seen.get(col)}" and "${h}" both name the ${col} column; keep one`);
      columns.push(undefined);
      continue;
    }
    if (col) seen.set(col, h);
    else if (h !== '') ignoredHeaders.push(h);
    columns.push(col);
  }
  for (const need of ['room', 'device', 'protocol', 'point'] as const)
    if (!seen.has(need)) errors.push(`${file}: row ${header.info.lines}: no ${need} column (headers accepted: ${COLUMNS[need].map((n) => `"${n}"`).join(', ')})`);
  if (!seen.has('address') && !seen.has('topic')) errors.push(`${file}: row ${header.info.lines}: neither a register column nor a topic column: no point could be placed`);
  const rows = records.map(({ record, info }) => {
    const cells: PointRow['cells'] = {};
    record.forEach((value, i) => {
      const col = columns[i];
      if (col && value !== '') cells[col] = value;
    });
    // csv-parse counts to the record's last line; a quoted cell may have spanned several.
    const spanned = record.reduce((n, v) => n + (v.match(/\n/g)?.length ?? 0), 0);
    return { row: info.lines - spanned, cells };
  });
  return { rows, ignoredHeaders, errors };
}

/** A spreadsheet in a locale with decimal commas exports `;`; some tools export tabs. */
function sniffDelimiter(text: string): string {
  const first = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  const count = (c: string) => first.split(c).length - 1;
  const best = [',', ';', '\t'].sort((a, b) => count(b) - count(a))[0]!;
  return count(best) > 0 ? best : ',';
}
