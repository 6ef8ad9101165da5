import { configSchema, roomSchema } from './schema.ts';
import { DEFAULT_POLICY } from './policy-schema.ts';
import { profileSchema } from './profile-schema.ts';
import { walkSchema, type ReferenceRow, type ReferenceSection } from './reference.ts';

/**
 * docs/configuration.md, generated from the site-config schemas (`npm run docs:config`
 * writes it; controller/test/config-reference.test.ts fails when the file and this
 * differ). Everything a key says comes from its schema's `.meta()`; only the page's
 * frame (title, how to read the tables, section order and titles) is written here.
 */

/** The config's keys as documented: rooms are `unknown[]` in configSchema (each room is validated on its own), so roomSchema stands in. */
export function configReferenceSections(): ReferenceSection[] {
  return walkSchema(configSchema, {
    elements: { rooms: roomSchema },
    // Policies name only what differs; resolvePolicies() fills the rest from the procedures' defaults.
    applied: { 'policies.<policy>': DEFAULT_POLICY },
    topLevelSection: 'top level',
  });
}

/** Section order and headings; a section not named here is still printed, after these, under its key. */
const TITLES: [string, string][] = [
  ['top level', 'Top level'],
  ['site', 'Site (`site`)'],
  ['rooms', 'Rooms (`rooms`)'],
  ['devices', 'Devices (`rooms[].devices`)'],
  ['scenes', 'Scenes (`rooms[].scenes`)'],
  ['policies', 'Policies (`policies`)'],
  ['mqtt', 'MQTT (`mqtt`)'],
  ['modbus', 'Modbus (`modbus`)'],
  ['influx', 'InfluxDB recorder (`influx`)'],
  ['api', 'HTTP API and pages (`api`)'],
  ['calendar', 'Calendar feeds (`calendar`)'],
  ['home_assistant', 'Home Assistant (`home_assistant`)'],
  ['log', 'Logging (`log`)'],
  ['simulation', 'Simulation (`simulation`)'],
];

const HEADER = `_Generated from the zod schemas in \`controller/src/config/\` by \`scripts/config-reference.ts\`; do not edit by hand: after changing a schema, run \`npm run docs:config\` to regenerate this file._

# Configuration reference

A site is one YAML file: \`roomctl start --config site.yaml\` runs it, \`roomctl validate site.yaml\`
checks it and prints every problem as \`path: message\`. Every mapping is strict: a key not
listed here is an error (with the closest known key suggested). Any value may be written
as \`\${VAR}\` and is then read from the environment, so secrets never need to be in the
file. Top-level keys starting with \`x-\` only hold YAML anchors for reuse and are ignored.
\`config/demo.yaml\` is a complete example.

How to read the tables:

- **key**: the path of the key; \`[]\` stands for each item of a list, \`<policy>\` (and the
  like) for a name you choose.
- **type**: what the value must be; "whole number 1–65535" includes both ends.
- **default**: the value used when the key is absent; "—" means none (absent is allowed
  where the key is not required, and then means what its description says).
- **required**: "yes" means the key must be given whenever the mapping that holds it is
  given (\`site\` and \`rooms\` always).
- **P**: the service procedure in [procedures.md](procedures.md) that the key and its
  default come from; a site changes those defaults through a policy.

Device profiles (\`devices/profiles/*.yaml\` and a site's \`profiles_dir\`) have a schema of
their own: [device-profiles.md](device-profiles.md) explains it, and
[the last section](#device-profile-files) lists its keys.
`;

export const PROFILE_HEADING = '## Device profile files';

const PROFILE_INTRO = `The keys of a device profile file, from the profile schema
(\`controller/src/config/profile-schema.ts\`); what they mean, with a worked Modbus example, is
in [device-profiles.md](device-profiles.md). \`points.<name>\` is a point of the device,
e.g. \`setpoint\` or \`mic.{channel}.level\`. A profile in a site's \`profiles_dir\` may also say
\`extends: <id>\` of a built-in profile: it is merged onto that one (mappings key by key, lists
and values replaced, \`null\` removes) before these keys are checked.`;

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to "-". */
const anchor = (title: string) => title.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

/** A table cell: "|" escaped, one line, and "<prefix>" outside code spans kept from reading as an HTML tag. */
const cell = (text: string) =>
  text
    .replace(/\s*\n\s*/g, ' ')
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith('`') ? part : part.replace(/</g, '&lt;')))
    .join('')
    .replace(/\|/g, '\\|');

function inline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length ? `{ ${entries.map(([k, v]) => `${k}: ${inline(v)}`).join(', ')} }` : '{}';
  }
  return typeof value === 'string' && /^[\w.:/+-]+$/.test(value) ? value : JSON.stringify(value);
}

/** The default column: the value as written in YAML, or the prose a schema gives for a default applied where it is used. */
export function defaultCell(row: ReferenceRow): string {
  if (row.defaultSource === 'text') return row.defaultText ?? '—';
  if (row.defaultValue === undefined) return '—';
  const shown = `\`${inline(row.defaultValue)}\``;
  return row.defaultSource === 'mapping' ? `${shown} (the mapping's default)` : shown;
}

export function rowLine(row: ReferenceRow): string {
  const description = [row.description, ...row.rules.map((r) => `Otherwise validate says: "${r}".`)].filter(Boolean).join(' ');
  return `| ${[`\`${row.path}\``, row.type, defaultCell(row), row.required ? 'yes' : 'no', description, row.procedure ?? ''].map(cell).join(' | ')} |`;
}

export function renderConfigReference(sections: ReferenceSection[] = configReferenceSections()): string {
  const titles = new Map(TITLES);
  const rank = (name: string) => {
    const i = TITLES.findIndex(([n]) => n === name);
    return i < 0 ? TITLES.length : i;
  };
  const ordered = [...sections].sort((a, b) => rank(a.name) - rank(b.name));
  const title = (s: ReferenceSection) => titles.get(s.name) ?? `\`${s.name}\``;
  const contents = [...ordered.map(title), PROFILE_HEADING.slice(3)].map((t) => `- [${t.replace(/`/g, '')}](#${anchor(t)})`);
  const out = [HEADER, '## Sections', '', ...contents, ''];
  for (const section of ordered) {
    out.push(`## ${title(section)}`, '');
    if (section.intro) out.push(section.intro, '');
    out.push('| key | type | default | required | description | P |', '| --- | --- | --- | --- | --- | --- |');
    // The section's own key says what the introduction above says; its row need not repeat it.
    for (const row of section.rows) out.push(rowLine(section.intro && row.description === section.intro ? { ...row, description: 'The section above.' } : row));
    out.push('');
  }
  out.push(PROFILE_HEADING, '', PROFILE_INTRO, '', '| key | type | default | required |', '| --- | --- | --- | --- |');
  for (const row of walkSchema(profileSchema).flatMap((sec) => sec.rows)) out.push(`| ${[`\`${row.path}\``, row.type, defaultCell(row), row.required ? 'yes' : 'no'].map(cell).join(' | ')} |`);
  return `${out.join('\n').trimEnd()}\n`;
}
