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
 * Publishes each room's points (value, quality, timestamp) and device health,
 * retained, on `<prefix>/<site>/rooms/<room>/state` (DESIGN.md "MQTT out"), so a
 * dashboard, a wall panel or Home Assistant can see the room without asking. Changes
 * are coalesced: at most one message per room per `minIntervalMs` of clock time.
 */
export class StatePublisher {
  readonly name = 'mqtt state topics';
  private dirty = new Set<string>();
  private timer?: TimerHandle;
  private unsubscribe: (() => void)[] = [];
  published = 0;

  constructor(
    private site: Site,
    private state: RoomStateStore,
    private bus: EventBus,
    private clock: Clock,
    private publisher: Publisher,
    private sitePrefix: string,
    private minIntervalMs = 1000,
  ) {}

  start(): void {
    this.unsubscribe.push(this.bus.on('point', (e) => this.markDirty(e.room)));
    this.unsubscribe.push(this.bus.on('device', (e) => this.markDirty(e.room)));
    for (const room of this.site.rooms) this.markDirty(room.id);
  }

  stop(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
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

  private markDirty(room: string): void {
    this.dirty.add(room);
    if (!this.timer) this.timer = this.clock.setTimeout(() => this.flush(), this.minIntervalMs);
  }

  private flush(): void {
    this.timer = undefined;
    const rooms = [...this.dirty];
    this.dirty.clear();
    for (const room of rooms) {
      this.published++;
      // QoS 1 + retained: the latest state survives a subscriber's reconnect. Errors are
      // the adapter's to log; a lost publish is replaced by the next change anyway.
      this.publisher.publish(this.topic(room), this.snapshot(room), { retain: true, qos: 1 }).catch(() => {});
    }
  }
}
