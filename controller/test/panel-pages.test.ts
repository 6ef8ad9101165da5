import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckName } from '../src/engine/readiness/checks.ts';
import type { RoomPhase } from '../src/engine/readiness/room-watch.ts';
import { silentLogger } from '../src/log.ts';
import { webPages } from '../src/panel/pages.ts';
import { RoomctlService } from '../src/service.ts';
import { API_SITE_YAML, apiFixture, type ApiFixture } from './helpers/api-site.ts';
import { siteFromYaml } from './helpers/site.ts';

/**
 * How the web pages are served (issue 6, items 4 and 5): public HTML that holds no
 * data, assets from the package only (nothing from the internet: buildings are often
 * offline), a content security policy that would stop a page from loading anything
 * from elsewhere, both languages complete, and the one API route the panel adds —
 * with the same authentication and room scope as every other route.
 */
const STATIC = fileURLToPath(new URL('../src/panel/static/', import.meta.url));
const files = readdirSync(STATIC);

/** Every phase and check the engine can report has words in both languages (a missing one fails tsc here). */
const PHASES = ['idle', 'open', 'preparing', 'ready', 'not_ready', 'in_session', 'closing', 'closed', 'released'] as const satisfies readonly RoomPhase[];
const CHECKS = ['devices_online', 'temperature_in_band', 'lights_scene', 'mic_test', 'backup_mics', 'audio_unmuted', 'display_on', 'door_unlocked', 'fresh_air_on', 'co2_below_max'] as const satisfies readonly CheckName[];
const allPhases: Exclude<RoomPhase, (typeof PHASES)[number]> extends never ? true : false = true;
const allChecks: Exclude<CheckName, (typeof CHECKS)[number]> extends never ? true : false = true;

let f: ApiFixture;

beforeAll(async () => {
  f = await apiFixture({ plugins: [webPages] });
});

afterAll(async () => {
  await f?.close();
});

describe('the web pages as served', () => {
  it('serves the overview, the room page and the wall panel without a token, with a strict content security policy', async () => {
    for (const [url, marker] of [
      ['/', '/ui/overview.js'],
      ['/rooms/A-101', '/ui/room.js'],
      ['/panel/A-101', '/ui/panel.js'],
      ['/panel/no-such-room', '/ui/panel.js'],
    ] as const) {
      const res = await f.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toContain(marker);
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    }
  });

  it('answers a repeated load with 304 and an unknown or sneaky asset name with a JSON 404 that names it', async () => {
    const first = await f.app.inject({ method: 'GET', url: '/ui/panel.js' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const again = await f.app.inject({ method: 'GET', url: '/ui/panel.js', headers: { 'if-none-match': String(first.headers.etag) } });
    expect(again.statusCode).toBe(304);
    for (const name of ['nope.js', '..%2Fpages.ts', '..%2F..%2Fservice.ts', '%2Fetc%2Fpasswd', 'pages.ts']) {
      const res = await f.app.inject({ method: 'GET', url: `/ui/${name}` });
      expect(res.statusCode, name).toBe(404);
      expect(res.json()).toMatchObject({ error: 'not_found', message: `unknown file "${decodeURIComponent(name)}"` });
    }
  });

  it('loads nothing from outside the server: no URL with a host in any page, script or style, and every file a page names exists', () => {
    for (const name of files) {
      // An SVG's namespace is a name, not a download.
      const text = readFileSync(join(STATIC, name), 'utf8').replaceAll('xmlns="http://www.w3.org/2000/svg"', '');
      expect(text.match(/\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}(?:[:/]|\b)/gi) ?? [], name).toEqual([]);
      expect(text, name).not.toMatch(/@import|@font-face|url\(\s*['"]?(?:https?:)?\/\//i);
      for (const [, ref] of text.matchAll(/(?:href|src)="\/ui\/([^"]+)"/g)) expect(files, `${name} → ${ref}`).toContain(ref);
      for (const [, ref] of text.matchAll(/from '\.\/([^']+)'/g)) expect(files, `${name} → ${ref}`).toContain(ref);
    }
  });

  it('has every word in both Chinese and English, including every phase and check the engine reports', async () => {
    expect(allPhases && allChecks).toBe(true);
    // The browser's own module, loaded as it is (it touches no browser API on import).
    const { DICTIONARIES } = (await import(new URL('i18n.js', `file://${STATIC}`).href)) as { DICTIONARIES: Record<'en' | 'zh-CN', Record<string, string>> };
    const en = DICTIONARIES.en;
    const zh = DICTIONARIES['zh-CN'];
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    for (const [key, text] of [...Object.entries(en), ...Object.entries(zh)]) expect(text.trim(), key).not.toBe('');
    for (const p of PHASES) expect(en[`phase.${p}`], p).toBeDefined();
    for (const c of CHECKS) expect(en[`check.${c}`], c).toBeDefined();
    // Every literal key a script asks for exists.
    for (const name of files.filter((n) => n.endsWith('.js')))
      for (const [, key] of readFileSync(join(STATIC, name), 'utf8').matchAll(/\bt\('([a-zA-Z_.-]+)'/g)) expect(en[key!], `${name}: t('${key}')`).toBeDefined();
  });

  it('gives the panel its room policy lead times (P2–P4, P12) with the same token rules as every API route', async () => {
    const url = '/api/v1/rooms/A-101/lead-times';
    expect((await f.app.inject({ method: 'GET', url })).statusCode).toBe(401);
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    expect((await f.app.inject({ method: 'GET', url, headers: bearer(f.token('scheduler')) })).statusCode).toBe(403);
    expect((await f.app.inject({ method: 'GET', url: '/api/v1/rooms/B-202/lead-times', headers: bearer(f.token('panel')) })).statusCode).toBe(403);
    const unknown = await f.app.inject({ method: 'GET', url: '/api/v1/rooms/Z-999/lead-times', headers: bearer(f.token('engineer')) });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toContain('Z-999');
    const ok = await f.app.inject({ method: 'GET', url, headers: bearer(f.token('panel')) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ room: 'A-101', policy: 'default', leadMinutes: { av: 30, ready: 15, final_sound: 5, vip3: 120 } });
  });

  it('is served by the running service itself (roomctl start), beside the API', async () => {
    const site = siteFromYaml(API_SITE_YAML);
    const service = new RoomctlService({
      site: { ...site, config: { ...site.config, mqtt: { ...site.config.mqtt, broker: { host: '127.0.0.1', port: 0 } } } },
      logger: silentLogger,
      dataDir: `${f.dataDir}/service`,
      api: { host: '127.0.0.1', port: 0 },
    });
    try {
      await service.start();
      expect(service.api.url).toBeDefined();
      const page = await fetch(`${service.api.url}/panel/A-101`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('/ui/panel.js');
      expect((await fetch(`${service.api.url}/ui/common.js`)).status).toBe(200);
    } finally {
      await service.stop();
    }
  });
});
