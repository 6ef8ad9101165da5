import type { Room } from '../../config/load.ts';
import type { CheckOutcome } from '../../model/events.ts';
import { JOB_ONLY } from '../intent/intent.ts';
import { mics } from '../intent/room-points.ts';
import type { CheckName } from './checks.ts';

/**
 * The mic tests' findings that the readiness watch follows up (P2, P3, P10).
 *
 * mic_test and backup_mics are not in the intent's checks (intent.ts JOB_ONLY): a mic
 * level exists only under test, so the watch does not judge microphones between tests.
 * That left one hole. When a mic test job (T-30, T-15, T-5, the start) finds a mic check
 * that does not pass, the alert book raises a `fail` at once but leaves an `unknown`
 * alone. A DSP with mic levels and no `mic.<n>.test` trigger plays no tone, so its mics
 * show no level before anyone speaks. Every test then came out `unknown`, and the day
 * had rooms that were not ready and 0 alerts.
 *
 * So a job's finding that is not a pass is kept here, per room and check, for the
 * meeting it was made for. The watch treats it as required while that meeting is in
 * focus: a `fail` stays raised, an `unknown` is alerted as "cannot be verified" once it
 * has lasted the watch's grace (counted from the job's finding, not from the watch's
 * first look), and it is cleared only when the check passes. A passing finding closes it.
 * Only jobs' outcomes (a step other than the watch's own) and only meetings' outcomes
 * are taken. The weekly self-test has no meeting, so it has no "meeting ahead" to alert for.
 */
export interface MicFinding {
  check: CheckName;
  meetingId: string;
  /** When a job first found it not passing (for "cannot be verified since"). */
  since: number;
}

export class MicFindings {
  private open = new Map<string, Map<CheckName, MicFinding>>();

  /** Takes a check outcome off the bus. Returns true when the room's follow-up changed. */
  note(o: CheckOutcome): boolean {
    if (o.step === 'watch' || o.meetingId === undefined || !JOB_ONLY.has(o.check as CheckName)) return false;
    const check = o.check as CheckName;
    const room = this.open.get(o.room);
    if (o.status === 'pass') return room?.delete(check) ?? false;
    const held = room?.get(check);
    if (held && held.meetingId === o.meetingId) return false;
    const finding: MicFinding = { check, meetingId: o.meetingId, since: o.ts };
    if (room) room.set(check, finding);
    else this.open.set(o.room, new Map([[check, finding]]));
    return true;
  }

  /** The findings held for this meeting. Findings of any other meeting (over, released, moved) are dropped and returned. */
  forMeeting(roomId: string, meetingId: string | undefined): { held: MicFinding[]; dropped: MicFinding[] } {
    const room = this.open.get(roomId);
    if (!room) return { held: [], dropped: [] };
    const held: MicFinding[] = [];
    const dropped: MicFinding[] = [];
    for (const f of room.values()) (f.meetingId === meetingId ? held : dropped).push(f);
    for (const f of dropped) room.delete(f.check);
    return { held, dropped };
  }

  /** The check passes now: nothing left to follow. */
  resolve(roomId: string, check: string): void {
    this.open.get(roomId)?.delete(check as CheckName);
  }
}

/**
 * Why a mic check cannot be verified, for the alert's message. Its observed items say
 * which mics gave no reading. This says what an engineer does about it: a DSP without
 * a test trigger needs someone to speak into each mic, and a DSP with one needs its test
 * state back.
 */
export function micUnverifiedWhy(room: Room, o: Pick<CheckOutcome, 'observed'>): string {
  const items = (Array.isArray(o.observed) ? o.observed : [o.observed]).filter((x): x is string => typeof x === 'string');
  const channels = mics(room).filter((m) => items.some((x) => x.startsWith(`${m.level}:`)));
  const untestable = channels.filter((m) => m.test === undefined);
  if (untestable.length > 0) {
    const devices = [...new Set(untestable.map((m) => m.level.split('.')[0]!))];
    return `: ${devices.join(', ')} has no mic test trigger (mic.<n>.test), so no test tone is played and a mic shows a level only while someone speaks into it; test ${untestable.map((m) => m.level.slice(0, -'.level'.length)).join(', ')} by hand`;
  }
  return channels.length > 0 ? ': no level from these mics, which are not under test (test tone off, muted, or their test state not reported)' : '';
}
