import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../src/api/roles.ts';
import { apiFixture, type ApiFixture } from './helpers/api-site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The HTTP API, route by route and role by role (issue 6, items 1, 2, 7), driven with
 * fastify inject() on an app built over a real running service (embedded broker, MQTT
 * adapter, schedule, engine). Panel and attendant tokens are scoped to room A-101.
 */
let f: ApiFixture;
const tokens = {} as Record<Role, string>;
let alertId = '';
const SECRET_TITLE = 'Secret budget talk';
const SECRET_ORGANIZER = 'Minister Zhang';
const HOUR = 3600_000;

type Expect = Partial<Record<Role, number>> & { others: number };
interface RouteCase {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: (role: Role) => string;
  body?: (role: Role) => unknown;
  expect: Expect;
}

const later = (h: number) => Date.now() + h * HOUR;
const booking = (room: string, h: number) => ({ room, start: later(h), end: later(h) + HOUR / 2, title: SECRET_TITLE, organizer: SECRET_ORGANIZER });
const slot = (role: Role) => 10 + ROLES.indexOf(role) * 2;
const READERS: Expect = { admin: 200, engineer: 200, viewer: 200, others: 403 };
const ROOM_A: Expect = { scheduler: 403, others: 200 };
const ROOM_B: Expect = { scheduler: 403, attendant: 403, panel: 403, others: 200 };
const BOOKERS = (status: number): Expect => ({ admin: status, engineer: status, scheduler: status, others: 403 });

const CASES: RouteCase[] = [
  { name: 'site and token', method: 'GET', url: () => '/api/v1/site', expect: { others: 200 } },
  { name: 'configuration', method: 'GET', url: () => '/api/v1/config', expect: { admin: 200, others: 403 } },
  { name: 'room list', method: 'GET', url: () => '/api/v1/rooms', expect: ROOM_A },
  { name: 'room in scope', method: 'GET', url: () => '/api/v1/rooms/A-101', expect: ROOM_A },
  { name: 'room out of scope', method: 'GET', url: () => '/api/v1/rooms/B-202', expect: ROOM_B },
  { name: 'room points', method: 'GET', url: () => '/api/v1/rooms/A-101/points', expect: ROOM_A },
  { name: 'room readiness now', method: 'GET', url: () => '/api/v1/rooms/A-101/readiness', expect: ROOM_A },
  { name: 'room events', method: 'GET', url: () => '/api/v1/rooms/A-101/events', expect: READERS },
  { name: 'scene list', method: 'GET', url: () => '/api/v1/rooms/A-101/scenes', expect: ROOM_A },
  { name: 'scene in scope', method: 'POST', url: () => '/api/v1/rooms/A-101/scenes/off?wait=false', expect: { admin: 202, engineer: 202, attendant: 202, panel: 202, others: 403 } },
  { name: 'scene out of scope', method: 'POST', url: () => '/api/v1/rooms/B-202/scenes/meeting?wait=false', expect: { admin: 202, engineer: 202, others: 403 } },
  { name: 'check now', method: 'POST', url: () => '/api/v1/rooms/A-101/check', expect: { admin: 200, engineer: 200, others: 403 } },
  { name: 'meeting list', method: 'GET', url: () => '/api/v1/meetings', expect: { ...BOOKERS(200), viewer: 200 } },
  { name: 'one meeting', method: 'GET', url: () => '/api/v1/meetings/m-A', expect: { ...BOOKERS(200), viewer: 200 } },
  { name: 'upsert by id', method: 'PUT', url: (r) => `/api/v1/meetings/put-${r}`, body: (r) => booking('B-202', slot(r)), expect: BOOKERS(201) },
  { name: 'upsert with id in body', method: 'POST', url: () => '/api/v1/meetings', body: (r) => ({ id: `post-${r}`, ...booking('B-202', slot(r) + 1) }), expect: BOOKERS(201) },
  { name: 'cancel', method: 'DELETE', url: (r) => `/api/v1/meetings/del-${r}`, expect: BOOKERS(200) },
  { name: 'readiness history', method: 'GET', url: () => '/api/v1/readiness', expect: READERS },
  { name: 'readiness of a meeting without a record', method: 'GET', url: () => '/api/v1/meetings/m-A/readiness', expect: { admin: 404, engineer: 404, viewer: 404, others: 403 } },
  { name: 'alerts', method: 'GET', url: () => '/api/v1/alerts', expect: READERS },
  { name: 'acknowledge an alert', method: 'POST', url: () => `/api/v1/alerts/${encodeURIComponent(alertId)}/ack`, body: () => ({ note: 'on my way' }), expect: { admin: 200, engineer: 200, others: 403 } },
  { name: 'audit log', method: 'GET', url: () => '/api/v1/audit', expect: { admin: 200, others: 403 } },
  { name: 'token list', method: 'GET', url: () => '/api/v1/tokens', expect: { admin: 200, others: 403 } },
  { name: 'token create', method: 'POST', url: () => '/api/v1/tokens', body: () => ({ role: 'viewer', label: 'made over the API' }), expect: { admin: 201, others: 403 } },
  { name: 'token revoke', method: 'DELETE', url: (r) => `/api/v1/tokens/${spare[r]}`, expect: { admin: 200, others: 403 } },
  { name: 'metrics', method: 'GET', url: () => '/metrics', expect: READERS },
  { name: 'health', method: 'GET', url: () => '/healthz', expect: { others: 200 } },
];
const spare = {} as Record<Role, string>;

const call = (method: RouteCase['method'], url: string, token?: string, body?: unknown) =>
  f.app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(body !== undefined ? { payload: body as object } : {}) });

beforeAll(async () => {
  f = await apiFixture();
  for (const role of ROLES) {
    tokens[role] = f.token(role);
    spare[role] = f.app.roomctl.tokens.create({ role: 'viewer', label: `spare for ${role}` }).info.id;
  }
  const { schedule, engine } = f.service;
  schedule.upsert({ id: 'm-A', ...booking('A-101', 1) });
  schedule.upsert({ id: 'm-B', ...booking('B-202', 2) });
  for (const role of ROLES) schedule.upsert({ id: `del-${role}`, ...booking('B-202', 40 + slot(role)) });
  alertId = engine.alerts.raise({ room: 'A-101', check: 'temperature_in_band', meetingId: 'm-A', observed: 27.5, expected: '20–24 °C', minutesToStart: 60 })!.id;
});

afterAll(async () => {
  await f?.close();
});

describe('every route for every role', () => {
  for (const c of CASES)
    it(`${c.method} ${c.name}: each role gets its status, and no token gets 401`, async () => {
      const got: Record<string, number> = {};
      const want: Record<string, number> = {};
      for (const role of ROLES) {
        const res = await call(c.method, c.url(role), tokens[role], c.body?.(role));
        got[role] = res.statusCode;
        want[role] = c.expect[role] ?? c.expect.others;
        if (res.statusCode >= 400) expect(res.json(), `${role}: ${res.body}`).toMatchObject({ error: expect.any(String), message: expect.any(String), path: expect.any(String) });
      }
      expect(got).toEqual(want);
      if (c.url('admin') !== '/healthz') {
        const anonymous = await call(c.method, c.url('admin'), undefined, c.body?.('admin'));
        expect(anonymous.statusCode).toBe(401);
        expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(anonymous.json().error).toBe('unauthorized');
      }
    });
});

describe('confidential meeting fields (P15)', () => {
  const urls = ['/api/v1/rooms', '/api/v1/rooms/A-101', '/api/v1/meetings', '/api/v1/meetings/m-A', '/api/v1/rooms/A-101/events?limit=500', '/api/v1/site'];

  it('viewer, attendant and panel tokens never see a title or organizer, in any answer', async () => {
    for (const role of ['viewer', 'attendant', 'panel'] as const)
      for (const url of urls) {
        const res = await call('GET', url, tokens[role]);
        if (res.statusCode !== 200) continue;
        expect(res.body, `${role} ${url}`).not.toContain(SECRET_TITLE);
        expect(res.body, `${role} ${url}`).not.toContain(SECRET_ORGANIZER);
      }
    const room = (await call('GET', '/api/v1/rooms/A-101', tokens.panel)).json();
    expect(room.meeting).toMatchObject({ id: 'm-A', level: 'normal' });
    expect(room.meeting).not.toHaveProperty('title');
  });

  it('admin, scheduler and engineer tokens see them', async () => {
    for (const role of ['admin', 'scheduler', 'engineer'] as const) {
      const m = (await call('GET', '/api/v1/meetings/m-A', tokens[role])).json();
      expect(m, role).toMatchObject({ title: SECRET_TITLE, organizer: SECRET_ORGANIZER });
    }
    const room = (await call('GET', '/api/v1/rooms/A-101', tokens.engineer)).json();
    expect(room.meetings[0]).toMatchObject({ id: 'm-A', title: SECRET_TITLE });
  });

  it('a bad title is refused without being quoted back', async () => {
    const res = await call('PUT', '/api/v1/meetings/x-1', tokens.scheduler, { ...booking('A-101', 80), title: `${SECRET_TITLE}\u0007` });
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain(SECRET_TITLE);
    expect(res.json().problems).toContain('body.title: invalid (not shown, P15)');
  });
});

describe('bad input and unknown names', () => {
  it('an unknown room, scene or meeting is a 404 that names it', async () => {
    const room = await call('GET', '/api/v1/rooms/Z-999', tokens.admin);
    expect(room.statusCode).toBe(404);
    expect(room.json().message).toBe('unknown room "Z-999"');
    const scene = await call('POST', '/api/v1/rooms/A-101/scenes/disco', tokens.admin);
    expect(scene.statusCode).toBe(404);
    expect(scene.json().message).toBe('room A-101 has no scene "disco" (known: meeting, off)');
    const meeting = await call('DELETE', '/api/v1/meetings/nobody-booked-this', tokens.scheduler);
    expect(meeting.statusCode).toBe(404);
    expect(meeting.json().message).toContain('nobody-booked-this');
    const booking404 = await call('PUT', '/api/v1/meetings/x-2', tokens.admin, booking('Z-999', 90));
    expect(booking404.statusCode).toBe(404);
    expect(booking404.json().message).toContain('Z-999');
  });

  it('validation errors say path: message for every problem, like the config loader', async () => {
    const res = await call('PUT', '/api/v1/meetings/x-3', tokens.admin, { room: 'A-101', start: '9am', end: later(3), level: 'vip9', colour: 'red' });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error).toBe('validation');
    expect(body.problems[0].startsWith(`${body.path}: `)).toBe(true);
    expect(body.problems).toEqual(expect.arrayContaining(['body.colour: unknown key', 'body.level: expected one of "normal", "vip3", "vip2", "vip1", got "vip9"']));
    expect(body.problems.some((p: string) => p.startsWith('body.start: '))).toBe(true);
    const query = await call('GET', '/api/v1/rooms/A-101/events?limit=0', tokens.admin);
    expect(query.json()).toMatchObject({ error: 'validation', path: 'query.limit', problems: ['query.limit: must be >= 1, got number 0'] });
  });

  it('overlapping bookings are a 409 naming the other meeting; a past one a 422', async () => {
    const clash = await call('PUT', '/api/v1/meetings/x-4', tokens.scheduler, { room: 'A-101', start: later(1) + 60_000, end: later(1) + 20 * 60_000 });
    expect(clash.statusCode).toBe(409);
    expect(clash.json().message).toContain('m-A');
    const past = await call('PUT', '/api/v1/meetings/x-5', tokens.scheduler, { room: 'A-101', start: Date.now() - 3 * HOUR, end: Date.now() - 2 * HOUR });
    expect(past.statusCode).toBe(422);
  });

  it('a body that is not JSON, too large, or of another type is a 4xx JSON error', async () => {
    const h = { authorization: `Bearer ${tokens.admin}` };
    const garbage = await f.app.inject({ method: 'PUT', url: '/api/v1/meetings/x-6', headers: { ...h, 'content-type': 'application/json' }, payload: '{"room": ' });
    expect(garbage.statusCode).toBe(400);
    const big = await f.app.inject({ method: 'PUT', url: '/api/v1/meetings/x-6', headers: { ...h, 'content-type': 'application/json' }, payload: JSON.stringify({ title: 'x'.repeat(100_000) }) });
    expect(big.statusCode).toBe(413);
    const text = await f.app.inject({ method: 'PUT', url: '/api/v1/meetings/x-6', headers: { ...h, 'content-type': 'application/xml' }, payload: '<meeting/>' });
    expect(text.statusCode).toBe(415);
    for (const r of [garbage, big, text]) expect(Object.keys(r.json()).sort()).toEqual(['error', 'message', 'path']);
  });
});

describe('tokens, rate limits and the audit log', () => {
  it('tokens are stored hashed; a revoked or expired token is refused on its next request', async () => {
    const { token, info } = f.app.roomctl.tokens.create({ role: 'engineer' });
    const file = readFileSync(join(f.dataDir, 'tokens.json'), 'utf8');
    expect(file).toContain(info.id);
    expect(file).not.toContain(token.slice(token.indexOf('_', 4) + 1)); // the secret: after rct_<id>_ (it may contain '_')
    expect((await call('GET', '/api/v1/rooms', token)).statusCode).toBe(200);
    f.app.roomctl.tokens.revoke(info.id);
    const revoked = await call('GET', '/api/v1/rooms', token);
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().message).toContain('revoked');
    const short = f.app.roomctl.tokens.create({ role: 'viewer', ttlMs: 1000 }).token;
    await waitFor(async () => (await call('GET', '/api/v1/rooms', short)).statusCode === 401, 10_000, 'the token to expire');
    expect((await call('GET', '/api/v1/rooms', 'rct_0123456789_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).json().message).toContain('not known');
  });

  it('a panel cannot fire more than a few scenes a minute', async () => {
    const panel = f.token('panel');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await call('POST', '/api/v1/rooms/A-101/scenes/off?wait=false', panel)).statusCode);
    expect(statuses.slice(0, 6)).toEqual([202, 202, 202, 202, 202, 202]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    const limited = await call('POST', '/api/v1/rooms/A-101/scenes/off?wait=false', panel);
    expect(limited.json()).toMatchObject({ error: 'rate_limited', path: '/api/v1/rooms/A-101/scenes/off' });
    // An engineer is not held back by the panel's limit.
    expect((await call('POST', '/api/v1/rooms/A-101/scenes/off?wait=false', tokens.engineer)).statusCode).toBe(202);
  });

  it('every state-changing request and every denial is audited with who, what, when and the result — never the token', async () => {
    const res = await call('GET', '/api/v1/audit?limit=5000', tokens.admin);
    const entries = res.json().entries as { tokenId: string | null; role: string | null; method: string; path: string; status: number; result: string; ts: string; room?: string; target?: string }[];
    for (const role of ROLES) {
      const mine = entries.filter((e) => e.tokenId === f.app.roomctl.tokens.list().find((t) => t.label === `test ${role}`)?.id);
      expect(mine.length, role).toBeGreaterThan(0);
      for (const e of mine) expect(e.role).toBe(role);
    }
    expect(entries.some((e) => e.method === 'PUT' && e.path === '/api/v1/meetings/put-scheduler' && e.result === 'ok' && e.target === 'put-scheduler')).toBe(true);
    expect(entries.some((e) => e.role === 'panel' && e.path === '/api/v1/rooms/B-202' && e.status === 403 && e.result === 'denied' && e.room === 'B-202')).toBe(true);
    expect(entries.some((e) => e.tokenId === null && e.status === 401 && e.result === 'denied')).toBe(true);
    expect(entries.some((e) => e.role === 'panel' && e.status === 429)).toBe(true);
    expect(entries.some((e) => e.method === 'POST' && e.path.endsWith('/ack') && e.room === 'A-101' && e.result === 'ok')).toBe(true);
    expect(entries.every((e) => !Number.isNaN(Date.parse(e.ts)))).toBe(true);
    // Reads that succeed are not audited.
    expect(entries.some((e) => e.method === 'GET' && e.status === 200)).toBe(false);
    const log = readFileSync(join(f.dataDir, 'audit.log'), 'utf8');
    for (const t of Object.values(tokens)) expect(log).not.toContain(t.slice(t.indexOf('_', 4) + 1));
    expect(log).not.toContain(SECRET_TITLE);
  });
});

describe('documentation, metrics and health', () => {
  it('the OpenAPI document lists every route and the Swagger UI loads nothing from the internet', async () => {
    const doc = (await f.app.inject({ method: 'GET', url: '/docs/json' })).json();
    for (const p of ['/api/v1/rooms', '/api/v1/rooms/{room}', '/api/v1/meetings/{id}', '/api/v1/rooms/{room}/scenes/{scene}', '/api/v1/rooms/{room}/check', '/api/v1/readiness', '/api/v1/alerts', '/api/v1/audit', '/api/v1/tokens', '/metrics', '/healthz'])
      expect(doc.paths, p).toHaveProperty([p]);
    const page = await f.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(3);
    for (const a of assets) {
      expect(a, 'no external asset').not.toMatch(/^(https?:)?\/\//);
      const url = new URL(a, 'http://x/docs/').pathname;
      expect((await f.app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
    const init = await f.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(init.body).toContain('validatorUrl: null');
    expect(doc.info.description).toContain('/api/v1/live');
  });

  it('/metrics has the message, command, poll, alert and recorder figures, and no meeting', async () => {
    await call('POST', '/api/v1/rooms/B-202/scenes/meeting', tokens.engineer);
    const text = (await call('GET', '/metrics', tokens.viewer)).body;
    for (const name of ['roomctl_mqtt_messages_received_total', 'roomctl_mqtt_connected 1', 'roomctl_commands_total{room="B-202",device="lights",protocol="mqtt"}', 'roomctl_modbus_poll_latency_seconds', 'roomctl_alerts_active{severity="warning"} 1', 'roomctl_recorder_queue_lines', 'roomctl_recorder_spool_lines', 'roomctl_recorder_spool_bytes', 'roomctl_scenes_total{result="failed"}'])
      expect(text, name).toContain(name);
    expect(text).not.toContain(SECRET_TITLE);
    expect(text).not.toContain('m-A');
  });

  it('/healthz reports the broker, the Modbus gateways and InfluxDB without a token', async () => {
    const res = await f.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', broker: { connected: true }, modbus: { gateways: [] }, influx: { configured: false, mode: 'spool-only' } });
  });
});
