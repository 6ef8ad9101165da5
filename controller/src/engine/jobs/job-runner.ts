import type { Room } from '../../config/load.ts';
import type { Meeting } from '../../model/meetings.ts';
import type { Step, StepKind } from '../intent/steps.ts';
import type { DueQueue } from '../timeline/due-queue.ts';
import { Stopped } from '../timeline/waits.ts';
import type { JobDeps, JobHandler, JobOutcome } from './job.ts';
import { avOn, finalSound, precondition, ready, recheck, vipCheck } from './prepare.ts';
import type { RoutineTask } from './routines.ts';
import { close, end, monitor, noShow, sessionStart } from './session.ts';

/**
 * Hands each due step to its job and returns the job's outcome to the timeline. Jobs
 * of one room run one after another (a compressed P13 timeline's AV step finishes
 * before its readiness check); a job cut short by shutdown comes back as "later, now",
 * so it is not recorded as done and runs again after a restart. A not-ready room's
 * re-checks (P4) go on the engine's routine queue until the start.
 */
const HANDLERS: Record<StepKind, JobHandler> = {
  vip_check: vipCheck,
  hvac_precondition: precondition,
  av_on: avOn,
  ready,
  final_sound: finalSound,
  session_start: sessionStart,
  monitor,
  no_show: noShow,
  end,
  close,
};

export class JobRunner {
  private chains = new Map<string, Promise<unknown>>();

  constructor(
    private deps: JobDeps,
    private rooms: ReadonlyMap<string, Room>,
    private queue: DueQueue<RoutineTask>,
    private meetingOf: (id: string) => Meeting | undefined,
  ) {}

  run(step: Step, meeting: Meeting): Promise<JobOutcome> {
    const previous = this.chains.get(step.room) ?? Promise.resolve();
    const run = previous.then(() => this.runNow(step, meeting));
    const tail = run.catch(() => {});
    this.chains.set(step.room, tail);
    void tail.then(() => {
      if (this.chains.get(step.room) === tail) this.chains.delete(step.room);
    });
    return run;
  }

  /** A meeting was cancelled or has started: no more re-checks for it. */
  cancelRecheck(meetingId: string): void {
    this.queue.cancel(`recheck:${meetingId}`);
  }

  private async runNow(step: Step, meeting: Meeting): Promise<JobOutcome> {
    const room = this.rooms.get(step.room);
    if (!room) return { kind: 'done' };
    const d = this.deps;
    if (step.kind === 'session_start' || step.kind === 'end') this.cancelRecheck(meeting.id);
    try {
      d.waits.check();
      const outcome = await HANDLERS[step.kind](d, step, meeting, room);
      if (outcome.kind === 'done') {
        d.bus.emit('activity', { room: room.id, kind: 'step', name: step.name, result: 'ok', meetingId: meeting.id, ts: d.clock.now() });
        if (outcome.recheckAt !== undefined) this.scheduleRecheck(step, outcome.recheckAt);
      }
      return outcome;
    } catch (err) {
      // Cut short by shutdown: back in the queue, so it is not recorded as done.
      if (err instanceof Stopped) return { kind: 'later', at: d.clock.now() };
      throw err;
    } finally {
      d.book.flush();
    }
  }

  private scheduleRecheck(step: Step, at: number): void {
    const id = step.meetingId;
    this.queue.schedule(`recheck:${id}`, at, async () => {
      const m = this.meetingOf(id);
      const room = this.rooms.get(step.room);
      if (!m || m.status !== 'scheduled' || !room) return;
      const outcome = await recheck(this.deps, step, m, room);
      if (outcome.kind === 'done' && outcome.recheckAt !== undefined) this.scheduleRecheck(step, outcome.recheckAt);
    });
  }
}
