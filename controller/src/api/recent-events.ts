import type { EventBus } from '../model/bus.ts';
import type { Schedule, ScheduleChange } from '../engine/timeline/schedule.ts';
import { publicMeeting, type PublicMeeting } from '../model/meetings.ts';
import type { ActivityEvent, AlertEvent, MeetingVerdict } from '../model/events.ts';
import type { DeviceHealth } from '../model/points.ts';

/**
 * The recent events of each room, in memory, for the engineer's room page ("recent
 * events") and `GET /api/v1/rooms/:room/events`: alerts raised and cleared, scenes,
 * steps, closes and routines (activity), verdicts, devices going on- or offline, and
 * bookings added, moved or cancelled. At most `perRoom` per room, newest last.
 *
 * P15: a booking is kept without its title and organizer (publicMeeting); the routes
 * add them back from the schedule only for the roles allowed to see them.
 */
export type RecentEvent =
  | { type: 'alert'; ts: number; room: string; alert: AlertEvent }
  | { type: 'activity'; ts: number; room: string; activity: ActivityEvent }
  | { type: 'verdict'; ts: number; room: string; verdict: MeetingVerdict }
  | { type: 'device'; ts: number; room: string; device: string; online: boolean; error?: string }
  | { type: 'meeting'; ts: number; room: string; change: ScheduleChange['kind']; meeting: PublicMeeting };

export class RecentEvents {
  private byRoom = new Map<string, RecentEvent[]>();
  private online = new Map<string, boolean>();
  private off: (() => void)[] = [];

  constructor(private perRoom = 200) {}

  start(bus: EventBus, schedule: Schedule, now: () => number): void {
    this.off.push(
      bus.on('alert', (a) => this.add({ type: 'alert', ts: a.ts, room: a.room, alert: a })),
      bus.on('activity', (a) => a.room && this.add({ type: 'activity', ts: a.ts, room: a.room, activity: a })),
      bus.on('verdict', (v) => this.add({ type: 'verdict', ts: v.ts, room: v.room, verdict: v })),
      bus.on('device', (d) => this.device(d)),
      schedule.onChange((c) => this.add({ type: 'meeting', ts: now(), room: c.meeting.room, change: c.kind, meeting: publicMeeting(c.meeting) })),
    );
  }

  stop(): void {
    for (const off of this.off) off();
    this.off = [];
  }

  /** Newest first. */
  of(room: string, limit = 50): RecentEvent[] {
    const list = this.byRoom.get(room) ?? [];
    return list.slice(-Math.max(1, limit)).reverse();
  }

  private device(d: DeviceHealth): void {
    const key = `${d.room}/${d.device}`;
    if (this.online.get(key) === d.online) return;
    this.online.set(key, d.online);
    const e: RecentEvent = { type: 'device', ts: d.ts, room: d.room, device: d.device, online: d.online };
    if (!d.online && d.lastError) e.error = d.lastError;
    this.add(e);
  }

  private add(e: RecentEvent): void {
    let list = this.byRoom.get(e.room);
    if (!list) this.byRoom.set(e.room, (list = []));
    list.push(e);
    if (list.length > this.perRoom) list.splice(0, list.length - this.perRoom);
  }
}
