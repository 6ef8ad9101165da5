import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { apiFixture, type ApiFixture } from './helpers/api-site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The live WebSocket (`/api/v1/live`) over a real socket: the app listening on a free
 * port over a running service; device states published on the real broker; a `ws`
 * client as the page would be. Scope and redaction (P15) hold on the stream as they
 * do on the routes.
 */
let f: ApiFixture;
let base = '';
let device: MqttClient;
const open: WebSocket[] = [];

interface Frame {
  type: string;
  [k: string]: unknown;
}

/** Connects and collects every frame. */
async function connect(query: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; frames: Frame[] }> {
  const ws = new WebSocket(`${base}/api/v1/live${query}`, { headers });
  open.push(ws);
  const frames: Frame[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Frame));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await waitFor(() => frames.some((x) => x.type === 'snapshot'), 10_000, 'the snapshot');
  return { ws, frames };
}

function refusedStatus(query: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base}/api/v1/live${query}`);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => {});
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
  });
}

beforeAll(async () => {
  f = await apiFixture();
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  const address = f.app.server.address();
  base = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  device = mqtt.connect(f.service.mqttUrl, { clientId: 'api-live-device', ...f.service.logins!.roomctl }) // stands in for two rooms' light controllers;
  await new Promise<void>((resolve) => device.once('connect', () => resolve()));
});

afterAll(async () => {
  for (const ws of open) ws.terminate();
  await device?.endAsync();
  await f?.close();
});

describe('the live WebSocket', () => {
  it('refuses a connection without a valid token (401) or with a role that may not watch (403), before upgrading', async () => {
    expect(await refusedStatus('')).toBe(401);
    expect(await refusedStatus('?token=rct_0123456789_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe(401);
    expect(await refusedStatus(`?token=${f.token('scheduler')}`)).toBe(403);
    expect(await refusedStatus(`?token=${f.token('viewer')}&types=nonsense`)).toBe(400);
    expect(await refusedStatus(`?token=${f.token('viewer')}&types=alert,room`)).toBe(101);
    const outOfScope = new WebSocket(`${base}/api/v1/live?token=${f.token('panel')}&rooms=B-202`);
    open.push(outOfScope);
    const code = await new Promise<number>((resolve) => outOfScope.on('close', (c) => resolve(c)));
    expect(code).toBe(1008);
  });

  it('greets a panel with its scope and a snapshot of its one room, then streams only that room', async () => {
    const { frames } = await connect(`?token=${f.token('panel')}`);
    expect(frames[0]).toMatchObject({ type: 'hello', token: { role: 'panel', rooms: ['A-101'] }, site: { id: 'apitest', language: 'en' }, speed: 1 });
    expect((frames[1]!.rooms as { id: string }[]).map((r) => r.id)).toEqual(['A-101']);
    await device.publishAsync('apitest/B-202/lights/main/state', JSON.stringify({ on: true, level: 40 }), { qos: 1 });
    await device.publishAsync('apitest/A-101/lights/main/state', JSON.stringify({ on: true, level: 55 }), { qos: 1 });
    const point = await waitFor(() => frames.find((x) => x.type === 'point' && x.point === 'lights.main.level'), 10_000, 'the A-101 point frame');
    expect(point).toMatchObject({ room: 'A-101', value: 55, quality: 'good' });
    const tile = await waitFor(() => frames.find((x) => x.type === 'room'), 10_000, 'a room frame');
    expect((tile.room as { id: string }).id).toBe('A-101');
    expect(frames.some((x) => x.room === 'B-202' || (x.room as { id?: string })?.id === 'B-202')).toBe(false);
  });

  it('sends meeting changes with the title only to roles that may see it (P15)', async () => {
    const panel = await connect(`?token=${f.token('panel')}`);
    const engineer = await connect('', { authorization: `Bearer ${f.token('engineer')}` });
    f.service.schedule.upsert({ id: 'live-1', room: 'A-101', start: Date.now() + 3600_000, end: Date.now() + 5400_000, title: 'Confidential review', organizer: 'Director Li' });
    const seen = await waitFor(() => engineer.frames.find((x) => x.type === 'meeting'), 10_000, 'the engineer meeting frame');
    expect(seen).toMatchObject({ change: 'added', meeting: { id: 'live-1', title: 'Confidential review', organizer: 'Director Li' } });
    const redacted = await waitFor(() => panel.frames.find((x) => x.type === 'meeting'), 10_000, 'the panel meeting frame');
    expect(redacted).toMatchObject({ change: 'added', meeting: { id: 'live-1', room: 'A-101' } });
    await waitFor(() => panel.frames.some((x) => x.type === 'room' && (x.room as { meeting?: { id: string } }).meeting?.id === 'live-1'), 10_000, 'the panel tile with the meeting');
    const all = JSON.stringify(panel.frames);
    expect(all).not.toContain('Confidential review');
    expect(all).not.toContain('Director Li');
  });

  it('narrows the stream on a subscribe frame, refuses unknown types and out-of-scope rooms, and reports scene results', async () => {
    const attendant = await connect(`?token=${f.token('attendant')}`);
    attendant.ws.send(JSON.stringify({ type: 'subscribe', types: ['scene', 'alert'] }));
    await waitFor(() => attendant.frames.some((x) => x.type === 'subscribed'), 10_000, 'subscribed');
    attendant.ws.send(JSON.stringify({ type: 'subscribe', rooms: ['B-202'] }));
    attendant.ws.send(JSON.stringify({ type: 'subscribe', types: ['gossip'] }));
    attendant.ws.send('not json');
    attendant.ws.send(JSON.stringify({ type: 'ping' }));
    await waitFor(() => attendant.frames.filter((x) => x.type === 'error').length >= 3 && attendant.frames.some((x) => x.type === 'pong'), 10_000, 'three errors and a pong');
    const before = attendant.frames.length;
    f.service.engine.alerts.raise({ room: 'A-101', check: 'co2_below_max', observed: 1400, expected: '≤ 1000 ppm' });
    const res = await f.app.inject({ method: 'POST', url: '/api/v1/rooms/A-101/scenes/off', headers: { authorization: `Bearer ${f.token('engineer')}` } });
    expect(res.statusCode).toBe(200);
    const scene = await waitFor(() => attendant.frames.find((x) => x.type === 'scene'), 10_000, 'the scene frame');
    expect(scene.result).toMatchObject({ room: 'A-101', scene: 'off', ok: false, source: 'api' });
    const alert = await waitFor(() => attendant.frames.find((x) => x.type === 'alert'), 10_000, 'the alert frame');
    expect(alert.alert).toMatchObject({ room: 'A-101', check: 'co2_below_max', state: 'raised', ack: null });
    // Only the subscribed types came after the subscribe.
    expect(new Set(attendant.frames.slice(before).map((x) => x.type))).toEqual(new Set(['scene', 'alert']));
  });
});
