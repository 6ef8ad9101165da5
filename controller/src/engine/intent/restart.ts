import type { Room, Site } from '../../config/load.ts';
import type { Logger } from '../../log.ts';
import type { Clock } from '../../model/clock.ts';
import { comfortBand, seasonAt } from '../../model/season.ts';
import type { ReadinessBook } from '../readiness/readiness-book.ts';
import type { RoomWatch } from '../readiness/room-watch.ts';
import type { WriteContext, WriteOutcome, WriteRequest } from '../reconcile/enforcement.ts';
import type { Schedule } from '../timeline/schedule.ts';
import { roomIntent } from './intent.ts';

/**
 * A controller that restarts mid-preparation must carry on without anyone noticing
 * (DESIGN.md, "The engine"). The schedule keeps which steps of each meeting were done;
 * from that, each room's current or next meeting gets back
 *   - its phase (the demo table and the API do not show a room in session as idle), and
 *   - its intent: what was already done is wanted again, so the reconciler holds it —
 *     HVAC started before the restart stays on, AV switched on stays on — and
 *     re-applies whatever a device lost meanwhile.
 * Steps not yet done run from the timeline as usual (missed ones at once, P13).
 */
export interface RestartDeps {
  site: Site;
  rooms: Iterable<Room>;
  schedule: Pick<Schedule, 'inRoom' | 'stepsDone'>;
  book: Pick<ReadinessBook, 'meeting'>;
  watch: Pick<RoomWatch, 'startSession' | 'setPhase'>;
  clock: Clock;
  log: Logger;
  write: (room: Room, writes: WriteRequest[], ctx: WriteContext) => Promise<WriteOutcome[]>;
}

const LOOK_AHEAD_MS = 4 * 3600_000;

export function restorePhases(d: RestartDeps): void {
  const now = d.clock.now();
  for (const room of d.rooms)
    for (const m of d.schedule.inRoom(room.id, now, now + LOOK_AHEAD_MS)) {
      const done = d.schedule.stepsDone(m.id);
      if (done.has('session_start') && m.start <= now) d.watch.startSession(room.id, m.id);
      else if (done.has('ready')) d.watch.setPhase(room.id, d.book.meeting(m.id)?.readyCheck?.ready ? 'ready' : 'not_ready', m.id);
      else if (done.has('av_on') || done.has('hvac_precondition')) d.watch.setPhase(room.id, 'preparing', m.id);
      else continue;
      break;
    }
}

/** Wants again what was done for each room's meeting; returns the writes in flight. */
export function restoreIntent(d: RestartDeps): Promise<WriteOutcome[]>[] {
  const now = d.clock.now();
  const out: Promise<WriteOutcome[]>[] = [];
  for (const room of d.rooms) {
    const m = d.schedule.inRoom(room.id, now, now + LOOK_AHEAD_MS).find((x) => x.status === 'scheduled' && x.end > now);
    if (!m) continue;
    const done = d.schedule.stepsDone(m.id);
    if (done.size === 0) continue;
    const season = seasonAt(d.site.config.site, m.start);
    const intent = roomIntent({ room, meeting: m, done, now, season, band: comfortBand(room.policy, season), today: true });
    if (intent.desired.length === 0) continue;
    d.log.info({ room: room.id, meeting: m.id, phase: intent.phase, points: intent.desired.length }, 'restart: holding what was already done for the meeting');
    out.push(d.write(room, intent.desired, { meetingId: m.id, minutesToStart: (m.start - now) / 60_000 }));
  }
  return out;
}
