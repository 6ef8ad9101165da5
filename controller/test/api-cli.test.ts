import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.ts';
import { RoomctlService } from '../src/service.ts';
import { API_SITE_YAML } from './helpers/api-site.ts';
import { siteFromYaml } from './helpers/site.ts';

/**
 * The CLI over the API (issue 6, item 6): `roomctl token`, `rooms`, `check`, `scene`
 * and `meetings` run as child processes against a running service whose API listens
 * on a free port — the token file written by `roomctl token create` is the one the
 * service reads. Exit codes: 0 done, 1 done but failed (not ready, scene not applied),
 * 2 refused or unreachable.
 */
const root = resolve(import.meta.dirname, '../..');
let service: RoomctlService;
let dataDir: string;
let url = '';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function roomctl(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((done) => {
    const childEnv = { ...process.env, ROOMCTL_URL: url, ROOMCTL_TOKEN: undefined, ...env };
    execFile(process.execPath, [join(root, 'bin/roomctl.js'), ...args], { cwd: dataDir, env: childEnv as NodeJS.ProcessEnv, timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, stdout, stderr }),
    );
  });
}

async function newToken(role: string, extra: string[] = []): Promise<string> {
  const r = await roomctl(['token', 'create', '--role', role, '--data-dir', dataDir, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'roomctl-api-cli-'));
  const site = siteFromYaml(API_SITE_YAML);
  const config = { ...site.config, mqtt: { ...site.config.mqtt, broker: { host: '127.0.0.1', port: 0 } } };
  service = new RoomctlService({ site: { ...site, config }, logger: silentLogger, dataDir, api: { port: 0 }, engine: { verifyTimeoutMs: 300, attempts: 1 } });
  await service.start();
  url = service.api.url!;
});

afterAll(async () => {
  await service?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('roomctl commands over the API', () => {
  it('token create prints the token once, stores only its hash, and list and revoke work on the same file', async () => {
    const r = await roomctl(['token', 'create', '--role', 'panel', '--rooms', 'A-101', '--ttl', '24h', '--label', 'tablet A', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    expect(token).toMatch(/^rct_[0-9a-f]{10}_[A-Za-z0-9_-]{43}$/);
    expect(r.stderr).toContain('role panel, rooms A-101');
    const id = token.split('_')[1]!;
    // The secret is everything after `rct_<id>_`: base64url may itself contain "_".
    const secret = token.slice(`rct_${id}_`.length);
    expect(secret).toHaveLength(43);
    expect(readFileSync(join(dataDir, 'tokens.json'), 'utf8')).not.toContain(secret);
    const list = await roomctl(['token', 'list', '--data-dir', dataDir]);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+panel\\s+A-101\\s+active`));
    expect(list.stdout).not.toContain(token);
    expect((await roomctl(['rooms'], { ROOMCTL_TOKEN: token })).code).toBe(0);
    expect((await roomctl(['token', 'revoke', id, '--data-dir', dataDir])).code).toBe(0);
    const after = await roomctl(['rooms'], { ROOMCTL_TOKEN: token });
    expect(after.code).toBe(2);
    expect(after.stderr).toContain('401: the API token has been revoked');
  });

  it('token create refuses a panel without exactly one room, an unknown role and a bad ttl', async () => {
    for (const args of [['--role', 'panel'], ['--role', 'panel', '--rooms', 'A-101,B-202'], ['--role', 'janitor'], ['--role', 'viewer', '--ttl', 'soon']]) {
      const r = await roomctl(['token', 'create', ...args, '--data-dir', dataDir]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
    }
  });

  it('rooms prints a readable table; without a token or a service it says why and exits 2', async () => {
    const viewer = await newToken('viewer');
    const r = await roomctl(['rooms'], { ROOMCTL_TOKEN: viewer });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^ROOM\s+NAME\s+PHASE\s+TEMP \(BAND\)\s+READINESS/);
    expect(r.stdout).toContain('A-101');
    expect(r.stdout).toContain('B-202');
    const none = await roomctl(['rooms']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('ROOMCTL_TOKEN');
    const away = await roomctl(['rooms'], { ROOMCTL_TOKEN: viewer, ROOMCTL_URL: 'http://127.0.0.1:1' });
    expect(away.code).toBe(2);
    expect(away.stderr).toContain('cannot reach roomctl at http://127.0.0.1:1');
  });

  it('check prints every check and exits 1 when the room is not ready; a viewer is refused with 2', async () => {
    const engineer = await newToken('engineer');
    const r = await roomctl(['check', 'A-101'], { ROOMCTL_TOKEN: engineer });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ devices_online/);
    expect(r.stdout).toMatch(/not ready: .*devices_online/);
    const viewer = await newToken('viewer');
    const refused = await roomctl(['check', 'A-101'], { ROOMCTL_TOKEN: viewer });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('403');
  });

  it('scene shows each write and which one failed (exit 1); an unknown scene is named (exit 2)', async () => {
    const attendant = await newToken('attendant', ['--rooms', 'A-101']);
    const r = await roomctl(['scene', 'A-101', 'meeting'], { ROOMCTL_TOKEN: attendant });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('✗ lights.main.on = true');
    expect(r.stdout).toContain('failed at lights.main.on: not confirmed');
    const unknown = await roomctl(['scene', 'A-101', 'disco'], { ROOMCTL_TOKEN: attendant });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('404: room A-101 has no scene "disco"');
    const other = await roomctl(['scene', 'B-202', 'meeting'], { ROOMCTL_TOKEN: attendant });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('403');
  });

  it('meetings add, list and cancel; titles listed only for roles that may see them (P15)', async () => {
    const scheduler = await newToken('scheduler');
    const start = new Date(Date.now() + 2 * 3600_000);
    start.setUTCSeconds(0, 0);
    const end = new Date(start.getTime() + 3600_000);
    const add = await roomctl(['meetings', 'add', '--id', 'cli-1', '--room', 'B-202', '--start', start.toISOString(), '--end', String(end.getTime()), '--level', 'vip3', '--title', 'Budget review', '--organizer', 'Director Wu'], { ROOMCTL_TOKEN: scheduler });
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/^meeting cli-1 added: B-202, \d{4}-\d{2}-\d{2} \d{2}:\d{2}–\d{2}:\d{2} \(Asia\/Shanghai\), vip3/);
    const list = await roomctl(['meetings', 'list', '--room', 'B-202'], { ROOMCTL_TOKEN: scheduler });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('Budget review');
    const viewer = await newToken('viewer');
    const hidden = await roomctl(['meetings', 'list'], { ROOMCTL_TOKEN: viewer });
    expect(hidden.stdout).toContain('cli-1');
    expect(hidden.stdout).not.toContain('Budget review');
    expect(hidden.stdout).not.toContain('Director Wu');
    const bad = await roomctl(['meetings', 'add', '--id', 'cli-2', '--room', 'B-202', '--start', '2026-11-23 09:00', '--end', '2026-11-23 10:00'], { ROOMCTL_TOKEN: scheduler });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('body.start');
    expect((await roomctl(['meetings', 'cancel', 'cli-1'], { ROOMCTL_TOKEN: scheduler })).stdout).toContain('meeting cli-1 cancelled');
    expect(service.schedule.get('cli-1')?.status).toBe('cancelled');
    const missing = await roomctl(['meetings', 'cancel', 'cli-404'], { ROOMCTL_TOKEN: scheduler });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cli-404');
  });
});
