import type { ApiContext } from './context.ts';
import type { ApiMetrics } from './metrics.ts';
import { inScope, scopedRooms, seesConfidential, type Principal } from './roles.ts';
import { clockSpeed } from './routes/site.ts';
import { alertView, meetingView, roomSummary } from './views.ts';

/**
 * The live event stream behind `GET /api/v1/live` (WebSocket). One JSON object per
 * text frame, each with a `type`:
 *
 *   hello      first frame: { site: {id,name,timezone,language}, now, speed, token: {id, role, rooms}, types }
 *   snapshot   second frame: { now, rooms: RoomSummary[] } — every room in scope, so a
 *              page that (re)connects is current at once
 *   room       { room: RoomSummary } — a room's tile changed (point, device, alert,
 *              check, verdict, scene, booking); coalesced, at most every 250 ms per room
 *   point      { room, point, device, value, quality, ts }
 *   device     { room, device, online, errors, latencyMs?, lastError?, ts }
 *   check      a CheckOutcome;  verdict  a MeetingVerdict;  activity  an ActivityEvent
 *   alert      { alert: AlertView } (raised or cleared, with its acknowledgement)
 *   scene      { result: SceneResult } — a scene finished (panel, API, keypad, schedule)
 *   meeting    { change: added|updated|moved|cancelled, meeting: MeetingView }
 *   mqtt       { connected } — the service's broker connection
 *   subscribed { rooms, types } — answer to a subscribe;  pong;  error { message }
 *   lagging    { dropped } — point frames were skipped because the client reads too slowly
 *
 * Client → server: { type: 'subscribe', rooms?: string[] | null, types?: string[] | null }
 * narrows the stream (null = everything in scope); { type: 'ping' } → pong.
 *
 * Scope and P15: a token scoped to rooms (panel, attendant) only ever receives frames
 * of its rooms; meeting titles and organizers appear only for admin, scheduler and
 * engineer tokens (views.ts meetingView). The token is re-checked every 30 s: a
 * revoked or expired one has its socket closed (4001).
 */
export const LIVE_TYPES = ['room', 'point', 'device', 'check', 'verdict', 'activity', 'alert', 'scene', 'meeting', 'mqtt'] as const;
type LiveType = (typeof LIVE_TYPES)[number];

/** What the hub needs of a WebSocket (ws's, as @fastify/websocket hands it over). */
export interface LiveSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  ping(): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown;
  on(event: 'pong' | 'close' | 'error', listener: () => void): unknown;
}

interface Client {
  socket: LiveSocket;
  principal: Principal;
  token: string;
  rooms: Set<string> | null;
  types: Set<LiveType> | null;
  dropped: number;
  alive: boolean;
}

const SKIP_POINTS_ABOVE = 1 << 20;
const CLOSE_ABOVE = 8 << 20;
const COALESCE_MS = 250;
const HEARTBEAT_MS = 30_000;

export class LiveHub {
  private clients = new Set<Client>();
  private dirty = new Set<string>();
  private flushTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private off: (() => void)[] = [];

  constructor(
    private ctx: ApiContext,
    private metrics?: ApiMetrics,
  ) {}

  start(): void {
    const { bus, schedule } = this.ctx;
    this.off.push(
      bus.on('point', (u) => this.clients.size && (this.send('point', u.room, { room: u.room, point: u.point, device: u.device, value: u.value, quality: u.quality, ts: u.ts }), this.touch(u.room))),
      bus.on('device', (d) => this.clients.size && (this.send('device', d.room, { ...d }), this.touch(d.room))),
      bus.on('check', (c) => this.clients.size && (this.send('check', c.room, { ...c }), this.touch(c.room))),
      bus.on('verdict', (v) => this.clients.size && (this.send('verdict', v.room, { ...v }), this.touch(v.room))),
      bus.on('alert', (a) => this.clients.size && (this.send('alert', a.room, { alert: alertView(this.ctx, a) }), this.touch(a.room))),
      bus.on('activity', (a) => {
        if (!this.clients.size || !a.room) return;
        this.send('activity', a.room, { ...a });
        const result = a.kind === 'scene' ? this.ctx.engine.scenes.lastResult(a.room) : undefined;
        if (result) this.send('scene', a.room, { result });
        this.touch(a.room);
      }),
      bus.on('phase', (p) => this.clients.size && this.touch(p.room)),
      bus.on('mqtt-connection', (m) => this.clients.size && this.send('mqtt', null, { connected: m.connected })),
      schedule.onChange((c) => {
        if (!this.clients.size) return;
        this.sendEach('meeting', c.meeting.room, (p) => ({ change: c.kind, meeting: meetingView(c.meeting, p) }));
        this.touch(c.meeting.room);
      }),
    );
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  stop(): void {
    for (const o of this.off) o();
    this.off = [];
    clearInterval(this.heartbeat);
    clearTimeout(this.flushTimer);
    for (const c of this.clients) c.socket.close(1001, 'roomctl is stopping');
    this.clients.clear();
  }

  get size(): number {
    return this.clients.size;
  }

  /** A socket that passed the guard: greet it, send the snapshot, listen for subscribe/ping. */
  add(socket: LiveSocket, principal: Principal, token: string, filter: { rooms?: string[]; types?: string[] }): void {
    const client: Client = { socket, principal, token, rooms: null, types: null, dropped: 0, alive: true };
    const problem = this.narrow(client, filter.rooms ?? null, filter.types ?? null);
    if (problem) {
      // Policy violation: the page asked for a room it may not watch.
      socket.send(JSON.stringify({ type: 'error', message: problem }));
      socket.close(1008, problem.slice(0, 120));
      return;
    }
    this.clients.add(client);
    this.metrics?.websocketClients.set(this.clients.size);
    socket.on('pong', () => (client.alive = true));
    socket.on('message', (data, isBinary) => this.onMessage(client, isBinary ? null : Buffer.isBuffer(data) ? data.toString('utf8') : null));
    socket.on('close', () => {
      this.clients.delete(client);
      this.metrics?.websocketClients.set(this.clients.size);
    });
    socket.on('error', () => socket.terminate());
    const s = this.ctx.site.config.site;
    this.write(client, { type: 'hello', site: { id: s.id, name: s.name, timezone: s.timezone, language: s.language }, now: this.ctx.clock.now(), speed: clockSpeed(this.ctx.clock), token: { id: principal.tokenId, role: principal.role, rooms: principal.rooms }, types: LIVE_TYPES });
    this.write(client, { type: 'snapshot', now: this.ctx.clock.now(), rooms: scopedRooms(principal, this.ctx.site.rooms).filter((r) => !client.rooms || client.rooms.has(r.id)).map((r) => roomSummary(this.ctx, r, principal)) });
  }

  private onMessage(client: Client, text: string | null): void {
    let msg: unknown;
    try {
      msg = text === null || text.length > 10_000 ? undefined : JSON.parse(text);
    } catch {
      msg = undefined;
    }
    const m = msg as { type?: unknown; rooms?: unknown; types?: unknown } | undefined;
    if (m?.type === 'ping') return this.write(client, { type: 'pong', now: this.ctx.clock.now() });
    if (m?.type === 'subscribe') {
      const list = (v: unknown) => (v === null || v === undefined ? null : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);
      const rooms = list(m.rooms);
      const types = list(m.types);
      if (rooms === undefined || types === undefined) return this.write(client, { type: 'error', message: 'subscribe takes rooms and types as lists of strings (or null for all)' });
      const problem = this.narrow(client, rooms, types);
      if (problem) return this.write(client, { type: 'error', message: problem });
      return this.write(client, { type: 'subscribed', rooms: client.rooms ? [...client.rooms] : null, types: client.types ? [...client.types] : null });
    }
    this.write(client, { type: 'error', message: 'unknown message: send {"type":"subscribe",…} or {"type":"ping"}' });
  }

  /** Applies a filter; returns why not (the filter is then left as it was). */
  private narrow(client: Client, rooms: string[] | null, types: string[] | null): string | undefined {
    const unknownRoom = rooms?.find((r) => !this.ctx.site.rooms.some((x) => x.id === r) || !inScope(client.principal, r));
    if (unknownRoom !== undefined) return `unknown room or not in this token's scope: "${unknownRoom.slice(0, 100)}"`;
    const unknownType = types?.find((t) => !(LIVE_TYPES as readonly string[]).includes(t));
    if (unknownType !== undefined) return `unknown event type "${unknownType.slice(0, 50)}" (types: ${LIVE_TYPES.join(', ')})`;
    client.rooms = rooms ? new Set(rooms) : null;
    client.types = types ? new Set(types as LiveType[]) : null;
    return undefined;
  }

  private wants(c: Client, type: LiveType, room: string | null): boolean {
    if (c.types && !c.types.has(type)) return false;
    if (room === null) return true;
    return inScope(c.principal, room) && (!c.rooms || c.rooms.has(room));
  }

  /** The same frame for everyone who wants it: serialised once. */
  private send(type: LiveType, room: string | null, body: object): void {
    let text: string | undefined;
    for (const c of this.clients) {
      if (!this.wants(c, type, room)) continue;
      if (type === 'point' && c.socket.bufferedAmount > SKIP_POINTS_ABOVE) {
        c.dropped++;
        continue;
      }
      text ??= JSON.stringify({ type, ...body });
      this.raw(c, text);
    }
  }

  /** A frame that depends on who reads it (P15 redaction). */
  private sendEach(type: LiveType, room: string, body: (p: Principal) => object): void {
    for (const c of this.clients) if (this.wants(c, type, room)) this.write(c, { type, ...body(c.principal) });
  }

  private touch(room: string): void {
    this.dirty.add(room);
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flushRooms(), COALESCE_MS);
    this.flushTimer.unref();
  }

  private flushRooms(): void {
    this.flushTimer = undefined;
    const rooms = [...this.dirty];
    this.dirty.clear();
    for (const id of rooms) {
      const room = this.ctx.site.rooms.find((r) => r.id === id);
      if (!room) continue;
      const views = new Map<boolean, string>();
      for (const c of this.clients) {
        if (!this.wants(c, 'room', id)) continue;
        const confidential = seesConfidential(c.principal);
        let text = views.get(confidential);
        if (!text) views.set(confidential, (text = JSON.stringify({ type: 'room', room: roomSummary(this.ctx, room, c.principal) })));
        this.raw(c, text);
      }
    }
  }

  private write(c: Client, frame: object): void {
    this.raw(c, JSON.stringify(frame));
  }

  private raw(c: Client, text: string): void {
    if (c.socket.readyState !== 1) return;
    if (c.socket.bufferedAmount > CLOSE_ABOVE) {
      c.socket.close(1013, 'reading too slowly; reconnect');
      return;
    }
    if (c.dropped > 0 && c.socket.bufferedAmount < SKIP_POINTS_ABOVE / 2) {
      const dropped = c.dropped;
      c.dropped = 0;
      c.socket.send(JSON.stringify({ type: 'lagging', dropped }));
    }
    c.socket.send(text);
  }

  /** Dead sockets (a tablet that slept) are dropped; revoked or expired tokens are shown the door. */
  private beat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        c.socket.terminate();
        continue;
      }
      if (!this.ctx.tokens.verify(c.token).ok) {
        c.socket.close(4001, 'token revoked or expired');
        continue;
      }
      c.alive = false;
      c.socket.ping();
    }
  }
}
