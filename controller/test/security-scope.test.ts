import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, type ApiFixture } from './helpers/api-site.ts';

/**
 * Issue 11, item 6: every meeting route checks the scope of the room the meeting is in
 * and of the room it is moved to, cancelled or not; a meeting outside the token's
 * scope is answered exactly like one that does not exist (no 403 vs 201 oracle); and
 * /metrics (per-room counters) only for tokens that see every room. Over the real app
 * on a real service (embedded broker, schedule, engine), driven by inject().
 */
const HOUR = 3_600_000;
let f: ApiFixture;
let admin: string;
let scopedA: string;
const later = (h: number) => Math.ceil(Date.now() / HOUR) * HOUR + h * HOUR;
const booking = (room: string, h: number) => ({ room, start: later(h), end: later(h) + HOUR / 2, level: 'normal' });

function call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, token: string, body?: object) {
  return f.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body ? { payload: body } : {}) });
}

/** The answer for an id nobody booked, with `id` in place of that id. */
async function missing(method: 'GET' | 'PUT' | 'DELETE', path: (id: string) => string, id: string, body?: object) {
  const res = await call(method, path('nobody-booked-this'), scopedA, body);
  return { status: res.statusCode, body: JSON.parse(res.body.replaceAll('nobody-booked-this', id)) as unknown };
}

beforeAll(async () => {
  f = await apiFixture();
  admin = f.token('admin');
  scopedA = f.token('scheduler', ['A-101']);
  expect((await call('PUT', '/api/v1/meetings/b-live', admin, booking('B-202', 30))).statusCode).toBe(201);
  expect((await call('PUT', '/api/v1/meetings/b-cancelled', admin, booking('B-202', 31))).statusCode).toBe(201);
  expect((await call('DELETE', '/api/v1/meetings/b-cancelled', admin)).statusCode).toBe(200);
  expect((await call('PUT', '/api/v1/meetings/a-own', scopedA, booking('A-101', 32))).statusCode).toBe(201);
}, 60_000);

afterAll(async () => {
  await f?.close();
});

describe('meeting routes and room scope', () => {
  it("will not let a token scoped to room A take over room B's cancelled booking, and answers exactly as for an unknown id", async () => {
    const take = await call('PUT', '/api/v1/meetings/b-cancelled', scopedA, booking('A-101', 33));
    const post = await call('POST', '/api/v1/meetings', scopedA, { id: 'b-cancelled', ...booking('A-101', 33) });
    expect(take.statusCode).toBe(404);
    expect(take.json()).toEqual({ error: 'not_found', message: 'unknown meeting "b-cancelled"', path: '/api/v1/meetings/b-cancelled' });
    expect(post.statusCode).toBe(404);
    expect(post.json()).toEqual({ ...take.json(), path: '/api/v1/meetings' });
    expect(f.service.schedule.get('b-cancelled')).toMatchObject({ room: 'B-202', status: 'cancelled' });
  });

  it("answers a scheduled meeting of room B like a missing one on every meeting route (read, upsert, cancel, readiness)", async () => {
    for (const [method, path, body] of [
      ['GET', (id: string) => `/api/v1/meetings/${id}`, undefined],
      ['DELETE', (id: string) => `/api/v1/meetings/${id}`, undefined],
    ] as const) {
      const res = await call(method, path('b-live'), scopedA, body);
      const expected = await missing(method, path, 'b-live', body);
      expect({ status: res.statusCode, body: res.json() as unknown }).toEqual(expected);
      expect(res.statusCode).toBe(404);
    }
    // Readiness (not a scheduler's): a viewer scoped to room A gets the answer of a meeting without a record.
    const viewerA = f.token('viewer', ['A-101']);
    const rec = await call('GET', '/api/v1/meetings/b-live/readiness', viewerA);
    const none = await call('GET', '/api/v1/meetings/nobody-booked-this/readiness', viewerA);
    expect(rec.statusCode).toBe(404);
    expect(rec.json()).toEqual(JSON.parse(none.body.replaceAll('nobody-booked-this', 'b-live')));
    const put = await call('PUT', '/api/v1/meetings/b-live', scopedA, booking('A-101', 34));
    expect(put.statusCode).toBe(404);
    expect(put.json()).toEqual({ error: 'not_found', message: 'unknown meeting "b-live"', path: '/api/v1/meetings/b-live' });
    expect(f.service.schedule.get('b-live')).toMatchObject({ room: 'B-202', status: 'scheduled' });
    const list = (await call('GET', '/api/v1/meetings?from=0&to=9999999999999', scopedA)).json<{ meetings: { id: string }[] }>();
    expect(list.meetings.map((m) => m.id)).toEqual(['a-own']);
  });

  it('refuses to move its own meeting into a room outside its scope (403), and lets it move it within', async () => {
    const out = await call('PUT', '/api/v1/meetings/a-own', scopedA, booking('B-202', 32));
    expect(out.statusCode).toBe(403);
    expect(out.json()).toEqual({ error: 'forbidden', message: 'this token may only act on room A-101', path: '/api/v1/meetings/a-own' });
    expect(f.service.schedule.get('a-own')).toMatchObject({ room: 'A-101', status: 'scheduled' });
    const moved = await call('PUT', '/api/v1/meetings/a-own', scopedA, booking('A-101', 35));
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ change: 'moved' });
  });

  it("lets an unscoped scheduler cancel and re-book any room's meeting", async () => {
    const scheduler = f.token('scheduler');
    const rebooked = await call('PUT', '/api/v1/meetings/b-cancelled', scheduler, booking('B-202', 36));
    expect(rebooked.statusCode).toBe(201);
    expect(f.service.schedule.get('b-cancelled')).toMatchObject({ room: 'B-202', status: 'scheduled' });
  });
});

describe('/metrics and room scope', () => {
  it('serves the metrics to tokens that see every room and refuses tokens scoped to some rooms', async () => {
    expect((await call('GET', '/metrics', f.token('engineer'))).statusCode).toBe(200);
    expect((await call('GET', '/metrics', f.token('viewer'))).statusCode).toBe(200);
    const scoped = await call('GET', '/metrics', f.token('viewer', ['A-101']));
    expect(scoped.statusCode).toBe(403);
    expect(scoped.json()).toEqual({ error: 'forbidden', message: 'the metrics cover every room: a token scoped to rooms may not read them', path: '/metrics' });
    expect((await call('GET', '/metrics', f.token('engineer', ['A-101', 'B-202']))).statusCode).toBe(403);
  });
});
