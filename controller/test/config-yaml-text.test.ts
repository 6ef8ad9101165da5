import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadConfigText } from '../src/config/load.ts';
import { quickYaml } from '../src/config/yaml-text.ts';

/**
 * The site file is read by js-yaml where it agrees with the `yaml` library (the
 * reference: YAML 1.2 core schema, unique keys) and by `yaml` alone where it might not
 * (config/yaml-text.ts). These guard that agreement: the same values, or the quick path
 * declines.
 */
const root = resolve(import.meta.dirname, '../..');
const reference = (text: string) => parse(text, { uniqueKeys: true }) as unknown;

const files = [
  ...readdirSync(join(root, 'config')).filter((f) => f.endsWith('.yaml')).map((f) => join(root, 'config', f)),
  ...readdirSync(join(root, 'devices/profiles')).map((f) => join(root, 'devices/profiles', f)),
  join(root, 'deploy/site.yaml'),
  join(root, 'controller/test/fixtures/three-mistakes.yaml'),
  join(root, 'controller/test/fixtures/acme-fc200.yaml'),
];

describe('reading YAML quickly (js-yaml) with the yaml library as the reference', () => {
  it.each(files.map((f) => [f.slice(root.length + 1), f]))('reads %s to exactly the values the yaml library reads', (_, file) => {
    const text = readFileSync(file, 'utf8');
    const quick = quickYaml(text);
    expect(quick).toBeDefined();
    expect(quick!.value).toEqual(reference(text));
  });

  it('types plain scalars as the YAML 1.2 core schema does: 0o/0x ints, .inf/.nan, 1e3, ~; 1_000, 0b11, yes, dates and quoted numbers stay strings', () => {
    const text = [
      'oct: 0o17', 'hex: 0x1F', 'dec: 012', 'neg: -42', 'plus: +7', 'exp: 1e3', 'frac: 2.50', 'dot: .5', 'inf: -.inf', 'nan: .NaN',
      'under: 1_000', 'bin: 0b11', 'yes: yes', 'off: off', 'True: True', 'date: 2026-12-03', 'null1: ~', 'null2: NULL', 'empty:',
      'quoted: "12"', "single: '0x1F'", 'time: 12:30', 'sexagesimal: 190:20:30',
    ].join('\n');
    const quick = quickYaml(text)!.value as Record<string, unknown>;
    expect(quick).toEqual(reference(text));
    expect(quick).toMatchObject({ oct: 15, hex: 31, dec: 12, exp: 1000, frac: 2.5, inf: -Infinity, under: '1_000', bin: '0b11', yes: 'yes', true: true, date: '2026-12-03', null1: null, empty: null, quoted: '12', time: '12:30' });
    expect(quick.nan).toBeNaN();
  });

  it('reads anchors with their aliases (the x- convention) and a "<<" key (no merge in YAML 1.2) as the yaml library does', () => {
    const text = 'x-scenes: &scenes { off: { steps: [ { set: lights.main.on, value: false } ] } }\nx-zone: &zone [main, board]\nrooms:\n  - { scenes: *scenes, zone: *zone }\n  - { scenes: *scenes, extra: { <<: *zone } }\n';
    expect(quickYaml(text)!.value).toEqual(reference(text));
  });

  it.each([
    ['an alias inside an anchored node (the yaml library bounds how far those expand)', 'x-a: &a 3\nx-b: &b { q: *a }\nroom: *b\n'],
    ['a %YAML directive (1.1 changes the schema)', '%YAML 1.1\n---\non: yes\n'],
    ['a duplicate key (the yaml library words the error)', 'a: 1\na: 2\n'],
    ['a null key', '~: 1\n'],
    ['a sequence as a key', '[a, b]: 1\n'],
    ['a mapping as a key', '{ a: 1 }: 2\n'],
    ['an unknown tag', 'a: !secret x\n'],
    ['a tab where indentation is expected', 'a:\n\tb: 1\n'],
    ['two documents', 'a: 1\n---\nb: 2\n'],
  ])('leaves %s to the yaml library', (_, text) => {
    expect(quickYaml(text)).toBeUndefined();
  });

  it('still gives a YAML syntax error its line and column, and a problem its line, when the quick path is taken or declined', () => {
    const bad = loadConfigText('site: { id: t, name: T, timezone: UTC }\nrooms:\n  - id: [oops\n');
    expect(bad.errors).toHaveLength(1);
    expect(bad.errors[0]).toMatch(/^YAML line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a \]/);
    const text = 'site: { id: t, name: T, timezone: UTC }\nrooms:\n  - id: R1\n    name: R1\n    capacity: 0\n';
    expect(quickYaml(text)).toBeDefined();
    const load = loadConfigText(text, { env: {} });
    expect(load.problems.map((p) => [p.path.join('.'), p.line])).toEqual([['rooms.0.capacity', 5]]);
    expect(load.parts!.lineOf(['rooms', 0, 'name'])).toBe(4);
  });
});
