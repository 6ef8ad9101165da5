import type { Room } from '../../config/load.ts';
import type { ResolvedDevice } from '../../model/devices.ts';
import type { PointValue } from '../../model/points.ts';
import type { StateReader } from '../readiness/checks.ts';

/**
 * Safety interlocks, asked before *every* write attempt, retries included — never
 * once per procedure: a fire alarm raised between two attempts must stop the second.
 *
 * Locking a door is refused
 *   - while a fire alarm covering the room is active: an alarm input covers the whole
 *     site unless its device says `covers: [rooms]` (a zone input);
 *   - while people are present (occupancy present or a count above 0);
 *   - while either cannot be verified: a reading that is stale, offline, never came,
 *     or was rejected by the adapter (a rejected message marks its points stale, see
 *     RoomStateStore.rejected) proves nothing, so it counts as unsafe.
 * Unlocking, and every other write, is always allowed: opening a door is the safe side.
 */
export type InterlockRoom = Pick<Room, 'id' | 'devices'>;

export class Interlocks {
  private rooms: Map<string, InterlockRoom>;
  /** Fire-alarm inputs of the whole site, with the room they are configured in. */
  private alarms: { room: string; device: ResolvedDevice }[];

  constructor(
    rooms: readonly InterlockRoom[],
    private state: StateReader,
  ) {
    this.rooms = new Map(rooms.map((r) => [r.id, r]));
    this.alarms = rooms.flatMap((r) => r.devices.filter((d) => d.profile.kind === 'fire_alarm').map((device) => ({ room: r.id, device })));
  }

  /** Is this write a door lock being engaged? */
  isLock(room: string, point: string, value: PointValue): boolean {
    if (value !== true) return false;
    const r = this.rooms.get(room);
    return !!r?.devices.some((d) => d.profile.kind === 'door' && point.startsWith(`${d.name}.`) && /lock/.test(point.slice(d.name.length + 1)));
  }

  /** Why this write must not be sent now, or undefined when it may. */
  refusal(room: string, point: string, value: PointValue): string | undefined {
    return this.isLock(room, point, value) ? this.lockRefusal(room) : undefined;
  }

  /** The fire-alarm inputs that cover a room. */
  alarmsCovering(room: string): { room: string; device: ResolvedDevice }[] {
    return this.alarms.filter((a) => a.device.covers === undefined || a.device.covers === 'site' || a.device.covers.includes(room) || a.room === room);
  }

  /** Why a door of this room must not be locked now, or undefined if it may. */
  lockRefusal(room: string): string | undefined {
    const r = this.rooms.get(room);
    if (!r) return `unknown room ${room}`;
    const s = this.state;
    for (const a of this.alarmsCovering(room)) {
      const where = a.room === room ? a.device.name : `${a.room}/${a.device.name}`;
      const active = s.get(a.room, `${a.device.name}.active`);
      if (active?.quality !== 'good' || active.value === null) return `fire alarm ${where} state unknown (${active ? (active.value === null ? 'no reading yet' : active.quality) : 'no point'})`;
      if (active.value === true) return `fire alarm ${where} is active`;
    }
    for (const d of r.devices.filter((x) => x.profile.kind === 'occupancy')) {
      const present = s.get(room, `${d.name}.present`);
      const count = s.get(room, `${d.name}.count`);
      if (present?.quality === 'good' && present.value === true) return 'room occupied';
      if (count?.quality === 'good' && typeof count.value === 'number' && count.value > 0) return `room occupied (${count.value} present)`;
      if (present?.quality !== 'good' && count?.quality !== 'good') return `occupancy unknown (${d.name} ${present?.quality ?? 'no point'})`;
    }
    return undefined;
  }
}
