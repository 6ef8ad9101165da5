import type { Site } from '../config/load.ts';
import type { EventBus } from './bus.ts';
import type { Clock, TimerHandle } from './clock.ts';
import type { RoomStateStore } from './room-state.ts';
import { topics } from './topics.ts';

/** The part of the MQTT adapter this feature needs. */
export interface Publisher {
  publish(topic: string, payload: string | Buffer | object, opts?: { retain?: boolean; qos?: 0 | 1 }): Promise<void>;
}

/**
 * At most one state message per room per this much clock time. A Modbus poll or a
 * scene changes a room's points in bursts (a fan-coil unit answers five registers
 * at once, a scene writes a dozen lights): the whole room is republished once for
 * the burst instead of once per point, and a dashboard is never more than a
 * quarter of a second behind. No config key fits it, so it is fixed here.
 */
export const STATE_INTERVAL_MS = 250;

/**
 * Trailing publishes fall on this clock grid (it divides STATE_INTERVAL_MS), so the
 * rooms that come due within the same 10 ms go out together: one timer and one
 * socket write for the batch instead of one each. Under bench:scene's telemetry
 * (every one of 1,000 rooms changing all the time) per-room timers meant 4,000
 * timer callbacks and as many writev calls a second, run back to back whenever the
 * event loop fell behind. A trailing publish is at most this much later; never earlier.
 */
export const STATE_BATCH_MS = 10;

interface RoomSlot {
  /** Clock time of the room's last publish. */
  lastAt?: number;
  /** A publish is waiting in a batch: later changes ride on it. */
  pending: boolean;
}

interface Batch {
  rooms: string[];
  timer: TimerHandle;
}

/**
 * Publishes each room's points (value, quality, timestamp) and device health,
 * retained, on `<prefix>/<site>/rooms/<room>/state` (DESIGN.md "MQTT out"), so a
 * dashboard, a wall panel or Home Assistant can see the room without asking.
 *
 * Coalesced per room: the first change after a quiet interval is published at once
 * (a zero-delay timer, so the points a device reported together go out together);
 * changes within `minIntervalMs` of that publish wait for one trailing
 * publish at its end (on the STATE_BATCH_MS grid, together with every other room
 * due then), which carries the room's state as it is then — the latest,
 * so the last change is never lost. The interval runs on the injected clock, so a
 * simulated day coalesces exactly as a real one. stop() publishes what is waiting.
 */
export class StatePublisher {
  readonly name = 'mqtt state topics';
  private rooms = new Map<string, RoomSlot>();
  /** Due clock time → the rooms to publish then, under one timer. */
  private batches = new Map<number, Batch>();
  /** The site's rooms by id: a snapshot looks its room up once, not by scanning the site. */
  private byId: Map<string, Site['rooms'][number]>;
  /** Point id or device name → its JSON key fragment (null: not usable, see payload()). */
  private keys = new Map<string, string | null>();
  private unsubscribe: (() => void)[] = [];
  private stopped = true;
  private inFlight = new Set<Promise<void>>();
  published = 0;

  constructor(
    private site: Site,
    private state: RoomStateStore,
    private bus: EventBus,
    private clock: Clock,
    private publisher: Publisher,
    private sitePrefix: string,
    private minIntervalMs = STATE_INTERVAL_MS,
  ) {
    this.byId = new Map(site.rooms.map((r) => [r.id, r]));
  }

  start(): void {
    this.stopped = false;
    this.unsubscribe.push(this.bus.on('point', (e) => this.changed(e.room)));
    this.unsubscribe.push(this.bus.on('device', (e) => this.changed(e.room)));
    for (const room of this.site.rooms) this.changed(room.id);
  }

  /** Publishes every room that has a change waiting, then stops (the MQTT adapter stops after this feature). */
  async stop(): Promise<void> {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    const batches = [...this.batches].sort((a, b) => a[0] - b[0]);
    this.batches.clear();
    for (const [, batch] of batches) {
      this.clock.clearTimeout(batch.timer);
      for (const room of batch.rooms) this.publish(room);
    }
    this.stopped = true;
    await Promise.allSettled([...this.inFlight]);
  }

  topic(room: string): string {
    return topics.roomState(this.sitePrefix, room);
  }

  /** The retained payload for one room. */
  snapshot(roomId: string): object {
    const room = this.byId.get(roomId)!;
    const points: Record<string, { value: unknown; quality: string; ts: number | null }> = {};
    for (const p of this.state.roomPoints(roomId)) points[p.id] = { value: p.value, quality: p.quality, ts: p.ts || null };
    const devices: Record<string, { online: boolean; errors: number }> = {};
    for (const d of room.devices) {
      const h = this.state.deviceHealth(roomId, d.name);
      devices[d.name] = { online: !!h?.online, errors: h?.errors ?? 0 };
    }
    return { room: roomId, name: room.name, ts: this.clock.now(), points, devices };
  }

  /**
   * The retained payload as text: exactly `JSON.stringify(snapshot(room))`, written
   * directly. bench:scene publishes 4,000 of these a second (1,000 busy rooms, ~1.9 KB
   * each); building the objects and stringifying them cost 14 µs a room, this about a
   * quarter of it. The key fragments are cached per point id and device name, which the
   * site's rooms share. A room with an array-index-like name among its keys (which
   * JSON.stringify would put first) takes the object path.
   */
  payload(roomId: string): string {
    const room = this.byId.get(roomId)!;
    const points = this.state.roomPoints(roomId);
    let out = `{"room":${JSON.stringify(roomId)},"name":${JSON.stringify(room.name)},"ts":${this.clock.now()},"points":{`;
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      const key = this.keyOf(p.id);
      if (key === undefined) return JSON.stringify(this.snapshot(roomId));
      out += `${i ? ',' : ''}${key}{"value":${valueJson(p.value)},"quality":"${p.quality}","ts":${p.ts || null}}`;
    }
    out += '},"devices":{';
    for (let i = 0; i < room.devices.length; i++) {
      const name = room.devices[i]!.name;
      const key = this.keyOf(name);
      if (key === undefined) return JSON.stringify(this.snapshot(roomId));
      const h = this.state.deviceHealth(roomId, name);
      out += `${i ? ',' : ''}${key}{"online":${!!h?.online},"errors":${h?.errors ?? 0}}`;
    }
    return `${out}}}`;
  }

  /** `"<key>":`, or undefined for a key JSON.stringify would not keep in insertion order. */
  private keyOf(key: string): string | undefined {
    let k = this.keys.get(key);
    if (k === undefined) this.keys.set(key, (k = ARRAY_INDEX.test(key) ? null : `${JSON.stringify(key)}:`));
    return k ?? undefined;
  }

  private changed(room: string): void {
    if (this.stopped) return;
    let slot = this.rooms.get(room);
    if (!slot) this.rooms.set(room, (slot = { pending: false }));
    if (slot.pending) return;
    slot.pending = true;
    // Due now (a zero-delay timer, not a direct publish: the points changing in this same
    // turn — a device's reply, a scene — ride along, and it fires at this same clock
    // instant), or at the end of the room's interval, rounded up to the batch grid.
    const now = this.clock.now();
    const end = slot.lastAt === undefined ? now : slot.lastAt + this.minIntervalMs;
    const due = end <= now ? now : Math.ceil(end / STATE_BATCH_MS) * STATE_BATCH_MS;
    let batch = this.batches.get(due);
    if (!batch) this.batches.set(due, (batch = { rooms: [], timer: this.clock.setTimeout(() => this.flush(due), due - now) }));
    batch.rooms.push(room);
  }

  private flush(due: number): void {
    const batch = this.batches.get(due);
    if (!batch) return;
    this.batches.delete(due);
    for (const room of batch.rooms) this.publish(room);
  }

  private publish(room: string): void {
    const slot = this.rooms.get(room);
    if (!slot?.pending || this.stopped) return;
    slot.pending = false;
    slot.lastAt = this.clock.now();
    this.published++;
    // QoS 1 + retained: the latest state survives a subscriber's reconnect. Errors are
    // the adapter's to log; a lost publish is replaced by the next change anyway.
    const sent = this.publisher
      .publish(this.topic(room), this.payload(room), { retain: true, qos: 1 })
      .catch(() => {})
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }
}

/** Keys an object enumerates before all others, in numeric order. */
const ARRAY_INDEX = /^(0|[1-9][0-9]{0,9})$/;

/** A point value as JSON.stringify writes it (qualities are the plain words good/stale/offline, written as they are) (numbers: the same conversion; a non-finite one is null). */
function valueJson(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v ?? null);
}
