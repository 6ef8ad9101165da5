import type { Room } from '../../config/load.ts';
import type { CheckOutcome } from '../../model/events.ts';
import type { RoomActions } from '../reconcile/actions.ts';
import type { CheckName } from '../readiness/checks.ts';
import type { WriteRequest } from '../reconcile/enforcement.ts';
import type { MeetingRef } from '../readiness/readiness-book.ts';
import { allPass } from '../readiness/readiness-book.ts';
import { displays, freshAir, lightZones, meetingLights } from '../intent/room-points.ts';

/**
 * The full equipment check: a device is proven by making it work, not by reading
 * that it is idle. Displays and fresh air are switched on, the lights go to the
 * meeting scene, every microphone runs its test tone (and, for vip1, the spares:
 * P10) — then the checks run, and everything is put back as it was.
 *
 * Used by the weekly self-test (P9, outside meeting hours) and by the VIP full checks
 * days before (P10 vip1 7 d and 1 d, P11 vip2 2 d) and hours before (P12 vip3 T-2h,
 * which runs right after AV on and therefore leaves the room on).
 */
export const EQUIPMENT_CHECKS: CheckName[] = ['devices_online', 'display_on', 'lights_scene', 'mic_test', 'backup_mics', 'audio_unmuted', 'fresh_air_on'];

export interface EquipmentTestResult {
  room: string;
  meetingId?: string;
  ok: boolean;
  outcomes: CheckOutcome[];
  restored: boolean;
  ts: number;
}

export async function equipmentTest(
  actions: Pick<RoomActions, 'write' | 'startMicTest' | 'waitForMicLevels' | 'check' | 'stopMicTest'>,
  room: Room,
  meeting: MeetingRef | undefined,
  options: { step: string; restore: boolean; now: () => number },
): Promise<EquipmentTestResult> {
  const ctx = meeting ? { meetingId: meeting.id } : {};
  const on: WriteRequest[] = [...displays(room).map((p) => ({ set: p, value: true })), ...freshAir(room).map((p) => ({ set: p, value: true })), ...meetingLights(room)];
  const [, since] = await Promise.all([actions.write(room, on, ctx), actions.startMicTest(room, ctx)]);
  await actions.waitForMicLevels(room, since);
  const outcomes = actions.check(room, EQUIPMENT_CHECKS, meeting, options.step);
  if (options.restore) {
    const off: WriteRequest[] = [...displays(room).map((p) => ({ set: p, value: false })), ...freshAir(room).map((p) => ({ set: p, value: false })), ...lightZones(room).map((z) => ({ set: z.on, value: false }))];
    await Promise.all([actions.write(room, off, ctx), actions.stopMicTest(room, ctx, true)]);
  }
  const result: EquipmentTestResult = { room: room.id, ok: allPass(outcomes), outcomes, restored: options.restore, ts: options.now() };
  if (meeting) result.meetingId = meeting.id;
  return result;
}
