import type { Site } from '../config/load.ts';
import type { EventBus } from './bus.ts';
import { every, type Clock } from './clock.ts';
import type { ResolvedPoint } from './devices.ts';
import type { DeviceHealth, PointState, PointValue, Quality } from './points.ts';

/** What adapters report into. Domain code never sees an adapter, only this. */
export interface PointSink {
  /** A device reported an already-checked value for a point. */
  reading(point: ResolvedPoint, value: PointValue): void;
  /** A device answered (online) or stopped answering (offline). */
  deviceStatus(room: string, device: string, online: boolean, info?: { latencyMs?: number; error?: string }): void;
  /**
   * A device sent something unusable; counted, never applied. `points` are the points
   * the message was meant to update: their last value is no longer trusted (stale).
   */
  rejected(room: string, device: string, topic: string, reason: string, points?: readonly string[]): void;
  /**
   * Optional, for an adapter's hot path: the point's place in the sink, found once and
   * kept by the adapter; `readingAt(slot, v)` is then `reading(point, v)` without the lookup.
   */
  slot?(point: ResolvedPoint): PointSlot | undefined;
  readingAt?(slot: PointSlot, value: PointValue): void;
}

/** What `PointSink.slot` hands out: opaque to the adapter. */
export type PointSlot = { readonly __pointSlot: unique symbol };

interface Entry {
  state: PointState;
  staleAfterMs: number;
}

/**
 * Holds every point of every room with its quality. `good` only while fresh: no
 * reading within the point's staleness window → `stale`; device offline → `offline`.
 * Changes of value or quality go out on the bus as `point` events.
 */
export class RoomStateStore implements PointSink {
  /** Room → point id → entry: the ids are the site's own strings, shared by every room; no key string per point (bench:ingest footprint). */
  private points = new Map<string, Map<string, Entry>>();
  /** The same entries by the site's point objects: the ingest path looks up by identity, without building a key string. */
  private byPoint = new Map<ResolvedPoint, Entry>();
  private byDevice = new Map<string, Entry[]>();
  private health = new Map<string, DeviceHealth>();
  private stopSweep?: () => void;

  constructor(
    private site: Site,
    private bus: EventBus,
    private clock: Clock,
  ) {
    for (const room of site.rooms) {
      let inRoom = this.points.get(room.id);
      if (!inRoom) this.points.set(room.id, (inRoom = new Map()));
      for (const device of room.devices) {
        const entries: Entry[] = [];
        for (const p of device.points) {
          const entry: Entry = { state: { id: p.id, room: room.id, device: device.name, value: null, ts: 0, quality: 'offline' }, staleAfterMs: p.def.stale_after_s * 1000 };
          inRoom.set(p.id, entry);
          this.byPoint.set(p, entry);
          entries.push(entry);
        }
        const k = key(room.id, device.name);
        this.byDevice.set(k, entries);
        this.health.set(k, { room: room.id, device: device.name, online: false, errors: 0, ts: 0 });
      }
    }
  }

  start(sweepMs = 1000): void {
    this.stopSweep = every(this.clock, sweepMs, () => this.sweep());
  }

  stop(): void {
    this.stopSweep?.();
  }

  get(room: string, point: string): PointState | undefined {
    return this.points.get(room)?.get(point)?.state;
  }

  /** The value if its quality is good, else undefined: callers cannot mistake stale for good. */
  goodValue(room: string, point: string): PointValue | undefined {
    const s = this.get(room, point);
    return s && s.quality === 'good' && s.value !== null ? s.value : undefined;
  }

  /**
   * The room's points in device order, then each device's point order: the order the
   * room's map was filled in. One map lookup, not a scan of every room (the state
   * topic asks for this about four times a second per busy room; /metrics per room).
   */
  roomPoints(room: string): PointState[] {
    const out: PointState[] = [];
    const inRoom = this.points.get(room);
    if (inRoom) for (const e of inRoom.values()) out.push(e.state);
    return out;
  }

  deviceHealth(room: string, device: string): DeviceHealth | undefined {
    return this.health.get(key(room, device));
  }

  allDeviceHealth(): DeviceHealth[] {
    return [...this.health.values()];
  }

  reading(point: ResolvedPoint, value: PointValue): void {
    const entry = this.byPoint.get(point) ?? this.points.get(point.room)?.get(point.id);
    if (entry) this.apply(entry, value);
  }

  slot(point: ResolvedPoint): PointSlot | undefined {
    return (this.byPoint.get(point) ?? this.points.get(point.room)?.get(point.id)) as unknown as PointSlot | undefined;
  }

  /** bench:ingest: the point's entry kept by the MQTT reader saves a 26,000-entry map lookup per message. */
  readingAt(slot: PointSlot, value: PointValue): void {
    this.apply(slot as unknown as Entry, value);
  }

  private apply(entry: Entry, value: PointValue): void {
    const now = this.clock.now();
    const s = entry.state;
    s.ts = now;
    if (s.value === value && s.quality === 'good') return;
    const previous = { value: s.value, quality: s.quality };
    s.value = value;
    s.quality = 'good';
    this.bus.emit('point', { room: s.room, point: s.id, device: s.device, value, ts: now, quality: 'good', previous });
  }

  deviceStatus(room: string, device: string, online: boolean, info: { latencyMs?: number; error?: string } = {}): void {
    const h = this.health.get(key(room, device));
    if (!h) return;
    const now = this.clock.now();
    const changed = h.online !== online;
    h.online = online;
    h.ts = now;
    if (info.latencyMs !== undefined) h.latencyMs = info.latencyMs;
    if (info.error) {
      h.errors++;
      h.lastError = info.error;
    }
    if (!online) for (const e of this.byDevice.get(key(room, device)) ?? []) this.setQuality(e, 'offline', now);
    if (changed || info.error || info.latencyMs !== undefined) this.bus.emit('device', { ...h });
  }

  rejected(room: string, device: string, topic: string, reason: string, points: readonly string[] = []): void {
    const h = this.health.get(key(room, device));
    if (h) {
      h.errors++;
      h.lastError = reason;
    }
    // A fire panel that starts sending garbage must not keep its last "no alarm" as good
    // for the rest of its staleness window: a rejected reading proves nothing (interlocks).
    const now = this.clock.now();
    for (const id of points) {
      const e = this.points.get(room)?.get(id);
      if (e && e.state.quality === 'good') this.setQuality(e, 'stale', now);
    }
  }

  /** Marks good points whose last reading is older than their window as stale. */
  sweep(): void {
    const now = this.clock.now();
    for (const inRoom of this.points.values()) for (const e of inRoom.values()) if (e.state.quality === 'good' && now - e.state.ts > e.staleAfterMs) this.setQuality(e, 'stale', now);
  }

  private setQuality(e: Entry, quality: Quality, now: number): void {
    const s = e.state;
    if (s.quality === quality) return;
    const previous = { value: s.value, quality: s.quality };
    s.quality = quality;
    this.bus.emit('point', { room: s.room, point: s.id, device: s.device, value: s.value, ts: now, quality, previous });
  }
}

const key = (room: string, id: string) => `${room}\u0000${id}`;
