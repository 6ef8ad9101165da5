import type { SimMeeting } from './meetings.ts';
import type { Rng } from './random.ts';

/**
 * Who is in which room, from the day's meetings: each attendee arrives 0–10
 * minutes before the start and leaves 0–5 minutes after the end (seeded per
 * meeting, so one meeting's crowd never depends on another's); a no-show
 * meeting has nobody. Counts only — nothing here identifies anyone (P15).
 */
interface Visit {
  arrive: number;
  leave: number;
}

export class OccupancyModel {
  private visits = new Map<string, Visit[]>();
  private meetings = new Map<string, SimMeeting[]>();

  constructor(meetings: readonly SimMeeting[], rng: Rng) {
    for (const m of meetings) {
      const list = this.meetings.get(m.room) ?? [];
      list.push(m);
      this.meetings.set(m.room, list);
      if (m.noShow) continue;
      const r = rng.fork(`meeting:${m.id}`);
      const visits = this.visits.get(m.room) ?? [];
      for (let i = 0; i < m.attendees; i++) {
        // Whole seconds: the same instants on every run and every clock step.
        const arrive = m.start - Math.round(r.range(0, 10 * 60)) * 1000;
        const leave = m.end + Math.round(r.range(0, 5 * 60)) * 1000;
        visits.push({ arrive, leave });
      }
      this.visits.set(m.room, visits);
    }
  }

  /** People in the room at an instant. */
  peopleAt(room: string, ts: number): number {
    let n = 0;
    for (const v of this.visits.get(room) ?? []) if (v.arrive <= ts && ts < v.leave) n++;
    return n;
  }

  /** Arrivals plus departures in (from, to]: each one opened the door. */
  movementsBetween(room: string, from: number, to: number): number {
    let n = 0;
    for (const v of this.visits.get(room) ?? []) {
      if (v.arrive > from && v.arrive <= to) n++;
      if (v.leave > from && v.leave <= to) n++;
    }
    return n;
  }

  /** The meeting in progress at an instant (start ≤ ts < end), if any. */
  meetingAt(room: string, ts: number): SimMeeting | undefined {
    return (this.meetings.get(room) ?? []).find((m) => m.start <= ts && ts < m.end);
  }

  /** When the last person of the day leaves a room (for tests and the demo's summary). */
  lastDeparture(room: string): number | undefined {
    const visits = this.visits.get(room) ?? [];
    return visits.length ? Math.max(...visits.map((v) => v.leave)) : undefined;
  }
}
