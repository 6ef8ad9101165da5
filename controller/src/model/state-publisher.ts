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

interface RoomSlot {
  /** Clock time of the room's last publish. */
  lastAt?: number;
  /** A publish is waiting on its timer: later changes ride on it. */
  pending: boolean;
  timer?: TimerHandle;
}

/**
 * Publishes each room's points (value, quality, timestamp) and device health,
 * retained, on `<prefix>/<site>/rooms/<room>/state` (DESIGN.md "MQTT out"), so a
 * dashboard, a wall panel or Home Assistant can see the room without asking.
 *
 * Coalesced per room: the first change after a quiet interval is published at once
 * (a zero-delay timer, so the points a device reported together go out together);
 * changes within `minIntervalMs` of that publish wait for one trailing
 * publish at its end, which carries the room's state as it is then — the latest,
 * so the last change is never lost. The interval runs on the injected clock, so a
 * simulated day coalesces exactly as a real one. stop() publishes what is waiting.
 */
export class StatePublisher {
  readonly name = 'mqtt state topics';
  private rooms = new Map<string, RoomSlot>();
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
  ) {}

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
    for (const [room, slot] of this.rooms) {
      if (!slot.pending) continue;
      if (slot.timer) this.clock.clearTimeout(slot.timer);
      this.publish(room);
    }
    this.stopped = true;
    await Promise.allSettled([...this.inFlight]);
  }

  topic(room: string): string {
    return topics.roomState(this.sitePrefix, room);
  }

  /** The retained payload for one room. */
  snapshot(roomId: string): object {
    const room = this.site.rooms.find((r) => r.id === roomId)!;
    const points: Record<string, { value: unknown; quality: string; ts: number | null }> = {};
    for (const p of this.state.roomPoints(roomId)) points[p.id] = { value: p.value, quality: p.quality, ts: p.ts || null };
    const devices: Record<string, { online: boolean; errors: number }> = {};
    for (const d of room.devices) {
      const h = this.state.deviceHealth(roomId, d.name);
      devices[d.name] = { online: !!h?.online, errors: h?.errors ?? 0 };
    }
    return { room: roomId, name: room.name, ts: this.clock.now(), points, devices };
  }

  private changed(room: string): void {
    if (this.stopped) return;
    let slot = this.rooms.get(room);
    if (!slot) this.rooms.set(room, (slot = { pending: false }));
    if (slot.pending) return;
    slot.pending = true;
    // A zero-delay timer, not a direct publish: the points changing in this same turn (a
    // device's reply, a scene) ride along, and it fires at this same clock instant.
    const wait = slot.lastAt === undefined ? 0 : Math.max(0, slot.lastAt + this.minIntervalMs - this.clock.now());
    slot.timer = this.clock.setTimeout(() => this.publish(room), wait);
  }

  private publish(room: string): void {
    const slot = this.rooms.get(room);
    if (!slot?.pending || this.stopped) return;
    slot.pending = false;
    slot.timer = undefined;
    slot.lastAt = this.clock.now();
    this.published++;
    // QoS 1 + retained: the latest state survives a subscriber's reconnect. Errors are
    // the adapter's to log; a lost publish is replaced by the next change anyway.
    const sent = this.publisher
      .publish(this.topic(room), this.snapshot(room), { retain: true, qos: 1 })
      .catch(() => {})
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }
}
