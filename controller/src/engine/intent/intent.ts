import type { Room } from '../../config/load.ts';
import type { Meeting } from '../../model/meetings.ts';
import type { Season } from '../../model/season.ts';
import { STEP_CHECKS, type CheckName } from '../readiness/checks.ts';
import type { WriteRequest } from '../reconcile/enforcement.ts';
import { displays, doorLocks, freshAir, freshAirSpeeds, hvacUnits, masterMutes, meetingLights, mics } from './room-points.ts';
import { avLeadMinutes } from './steps.ts';

/**
 * What a room should be at an instant: a pure function of the room (devices, policy),
 * the meeting it is about, what of that meeting's preparation has been carried out,
 * and the time — no I/O, so it can be asked at any instant (tests, a restart).
 *
 * The phase follows the meeting's timeline (docs/procedures.md):
 *   preconditioning  HVAC started for it (P5), before its AV step
 *   av_prep          from the AV step (T-30, T-2h for vip3: P2/P16/P12)
 *   ready            from the ready step (T-15, P4) to the start
 *   in_session       from the start to the end (P6)
 *   idle             nothing of a meeting under way
 * The desired values are those the timeline's steps set for the phase: the reconciler
 * keeps them so. After a controller restart the engine asks this for every room whose
 * meeting was being prepared, so what was done before the restart is held again
 * without anyone noticing (the reconciler re-applies whatever a device lost meanwhile).
 * The checks are the ones the meeting depends on now (the readiness watch runs them);
 * the microphone checks are the mic tests' findings and are left to those jobs.
 */
export type IntentPhase = 'idle' | 'preconditioning' | 'av_prep' | 'ready' | 'in_session';

export interface RoomIntent {
  phase: IntentPhase;
  meetingId?: string;
  desired: WriteRequest[];
  checks: CheckName[];
}

export interface IntentInput {
  room: Room;
  /** The meeting in session, else the room's next one (undefined: none ahead). */
  meeting?: Pick<Meeting, 'id' | 'start' | 'end' | 'level' | 'status'> & { attendees?: number };
  /** Step names of that meeting already carried out (the schedule keeps them). */
  done: ReadonlySet<string>;
  now: number;
  season: Season;
  /** The comfort band at the meeting's start (P5). */
  band: [number, number];
  /** Meeting later today: its devices must be online (faults alerted at once). */
  today: boolean;
}

const MIN = 60_000;
/**
 * Checks that are the mic tests' own findings (a mic level exists only under test). The
 * watch does not run them on its own. It follows up a job's finding that did not pass
 * (readiness/mic-findings.ts).
 */
export const JOB_ONLY: ReadonlySet<CheckName> = new Set(['mic_test', 'backup_mics']);
const AV_CHECKS: CheckName[] = ['devices_online', 'display_on', 'audio_unmuted', 'fresh_air_on'];

export function roomIntent(input: IntentInput): RoomIntent {
  const { room, meeting: m, done, now } = input;
  if (!m || m.status !== 'scheduled' || m.end <= now) return { phase: 'idle', desired: [], checks: [] };
  const policy = room.policy;
  const avAt = m.start - avLeadMinutes(policy, m.level) * MIN;
  const readyAt = m.start - policy.lead_minutes.ready * MIN;
  let phase: IntentPhase = 'idle';
  if (now >= m.start) phase = 'in_session';
  else if (now >= readyAt && done.has('ready')) phase = 'ready';
  else if (now >= avAt && done.has('av_on')) phase = 'av_prep';
  else if (done.has('hvac_precondition')) phase = 'preconditioning';

  const desired: WriteRequest[] = [];
  const hvacOn = phase !== 'idle' && (done.has('hvac_precondition') || phase === 'in_session');
  if (hvacOn) desired.push(...hvacWrites(room, input.band, input.season));
  if (phase === 'av_prep' || phase === 'ready' || phase === 'in_session') {
    desired.push(...[...displays(room), ...freshAir(room)].map((p) => ({ set: p, value: true })));
    const crowded = (m.attendees ?? 0) >= 0.5 * room.capacity;
    desired.push(...freshAirSpeeds(room).map((p) => ({ set: p, value: crowded ? 'high' : 'medium' })));
    desired.push(...doorLocks(room).map((p) => ({ set: p, value: false })));
    desired.push(...masterMutes(room).map((p) => ({ set: p, value: false })));
    for (const mic of mics(room)) if (mic.mute) desired.push({ set: mic.mute, value: false });
  }
  if (phase === 'ready' || (phase === 'in_session' && done.has('ready'))) desired.push(...meetingLights(room));

  let checks: CheckName[] = [];
  if (phase === 'in_session') checks = [...STEP_CHECKS.monitor];
  else if (phase === 'ready') checks = STEP_CHECKS.ready.filter((c) => !JOB_ONLY.has(c));
  else if (phase === 'av_prep') checks = AV_CHECKS;
  else if (input.today) checks = ['devices_online'];
  return { phase, meetingId: m.id, desired, checks };
}

/** P5: every unit on, in the season's mode, at the middle of the band (what a restart can know of the optimal start's choice). */
function hvacWrites(room: Room, [lo, hi]: [number, number], season: Season): WriteRequest[] {
  const mode = season === 'summer' ? 'cool' : season === 'winter' ? 'heat' : 'auto';
  const setpoint = Math.round(((lo + hi) / 2) * 10) / 10;
  return hvacUnits(room).flatMap((d) => [
    { set: `${d.name}.power`, value: true },
    ...(d.points.some((p) => p.id === `${d.name}.mode`) ? [{ set: `${d.name}.mode`, value: mode }] : []),
    { set: `${d.name}.setpoint`, value: setpoint },
  ]);
}
