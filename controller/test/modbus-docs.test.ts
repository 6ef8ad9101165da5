import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProfile } from '../src/config/profiles.ts';

/**
 * docs/device-profiles.md's worked example is the profile the Modbus tests drive
 * (test/fixtures/acme-fc200.yaml): the guide's whole-profile listing must parse to
 * the same profile, so the guide cannot drift from what is tested.
 */
const ROOT = join(import.meta.dirname, '../..');

describe('docs/device-profiles.md', () => {
  it('shows, as the whole profile, exactly the profile the Modbus tests use', () => {
    const guide = readFileSync(join(ROOT, 'docs/device-profiles.md'), 'utf8');
    const section = guide.slice(guide.indexOf('## 6. The whole profile'));
    const listing = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(listing, 'a yaml listing under "6. The whole profile"').toBeDefined();
    const fromGuide = parseProfile(listing!);
    const fromFixture = parseProfile(readFileSync(join(ROOT, 'controller/test/fixtures/acme-fc200.yaml'), 'utf8'));
    expect(fromGuide.ok ? [] : fromGuide.errors).toEqual([]);
    expect(fromFixture.ok ? [] : fromFixture.errors).toEqual([]);
    const strip = (p: Record<string, unknown>) => {
      const { manufacturer: _m, points, ...rest } = p;
      // descriptions are prose: compare what roomctl does with the profile
      return { ...rest, points: Object.fromEntries(Object.entries(points as Record<string, Record<string, unknown>>).map(([k, v]) => [k, { ...v, description: undefined }])) };
    };
    expect(strip(fromGuide.ok ? fromGuide.profile : {})).toEqual(strip(fromFixture.ok ? fromFixture.profile : {}));
  });
});
