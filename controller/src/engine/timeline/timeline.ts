import type { Room } from '../../config/load.ts';
import { silentLogger, type Logger } from '../../log.ts';
import type { Clock } from '../../model/clock.ts';
import { DueQueue, type DueQueueStats } from './due-queue.ts';
import type { Meeting } from '../../model/meetings.ts';
import type { Schedule, ScheduleChange } from './schedule.ts';
import { earliestStepTime, planMeeting, type MeetingPlan, type Step } from '../intent/steps.ts';
import type { JobOutcome } from '../jobs/job.ts';

/**
 * Keeps every scheduled meeting's steps in the one DueQueue and hands each step to the
 * executor when it is due. Re-plans on every schedule change: the changed meeting, and
 * the meetings before its old and new slots (whose close depends on what follows:
 * back-to-back, setback or off). A step counts as done when the executor returns (or its
 * promise settles) without having re-queued it; "done" is persisted in the schedule, so
 * after a restart preparation resumes where it stopped instead of starting over.
 *
 * Memory and work stay proportional to what is near: a meeting whose first step is
 * further off than the planning horizon holds a single placeholder entry, which plans
 * it in full when the horizon reaches it (a month of 100,000 meetings is mostly
 * placeholders). Planning is pure, so planning later gives the same steps.
 */
/** Runs a due step's job; "later" puts it back in the queue (not done), anything else is done. */
export type StepRunner = (step: Step, meeting: Meeting) => void | JobOutcome | Promise<void | JobOutcome>;

export interface TimelineOptions {
  schedule: Schedule;
  rooms: readonly Pick<Room, 'id' | 'policy' | 'devices'>[];
  clock: Clock;
  run: StepRunner;
  /** How long before T-15 optimal start begins evaluating (see steps.ts). */
  hvacEvaluateLeadMinutes?: number;
  /** Meetings whose first step is further off than this are planned in full later. Default 24 h. */
  horizonMs?: number;
  logger?: Logger;
}

/** A queue entry: a step, or the placeholder of a meeting beyond the planning horizon. */
type Entry = { step: Step } | { planLater: string };

const DEFAULT_HORIZON_MS = 24 * 3600_000;

export class Timeline {
  private queue: DueQueue<Entry>;
  private rooms: Map<string, Pick<Room, 'id' | 'policy' | 'devices'>>;
  /** Plans of meetings within the horizon (others are planned on demand, not kept). */
  private plans = new Map<string, MeetingPlan>();
  /** Queued keys per meeting (steps or placeholder), so re-planning one meeting never scans the queue. */
  private queued = new Map<string, Set<string>>();
  private inFlight = new Set<Promise<void>>();
  /** Steps handed to the executor and not yet settled (key → booking generation), so a re-plan meanwhile does not queue them again. */
  private running = new Map<string, number>();
  private unsubscribe?: () => void;
  private log: Logger;

  constructor(private options: TimelineOptions) {
    this.rooms = new Map(options.rooms.map((r) => [r.id, r]));
    this.log = options.logger ?? silentLogger;
    this.queue = new DueQueue<Entry>(
      options.clock,
      (entry, key) => this.dispatch(entry, key),
      (err, key) => this.log.error({ err, step: key }, 'timeline: step failed'),
    );
  }

  /** Plans every scheduled meeting (missed steps run at once: P13 / restart) and starts the clock timer. */
  start(): void {
    this.unsubscribe = this.options.schedule.onChange((change) => this.onChange(change));
    for (const m of this.options.schedule.meetings()) this.replan(m);
    this.queue.start();
  }

  /** Stops the timer; resolves once steps already handed to the executor have settled. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.queue.stop();
    await Promise.allSettled([...this.inFlight]);
  }

  /** The current plan of a meeting (its minutesLate and omitted steps included). */
  plan(meetingId: string): MeetingPlan | undefined {
    const kept = this.plans.get(meetingId);
    if (kept) return kept;
    if (!this.queue.has(placeholderKey(meetingId))) return undefined;
    const meeting = this.options.schedule.get(meetingId);
    const room = meeting && this.rooms.get(meeting.room);
    return meeting && room ? this.computePlan(meeting, room) : undefined;
  }

  /** Steps of a meeting not yet run, by due time (for a meeting beyond the horizon: as it would be planned now). */
  pending(meetingId: string): Step[] {
    if (this.queue.has(placeholderKey(meetingId))) return this.plan(meetingId)?.steps ?? [];
    return [...(this.queued.get(meetingId) ?? [])]
      .map((k) => this.queue.get(k)?.item)
      .flatMap((e) => (e && 'step' in e ? [e.step] : []))
      .sort((a, b) => a.due - b.due || a.rank - b.rank);
  }

  /**
   * Puts a step back in the queue for a later time: a job's "later" outcome (close
   * waiting for the room to be vacant P7, optimal start deciding to wait P5, monitoring
   * re-arming P6). A step re-queued while it runs is not marked done.
   */
  private reschedule(step: Step, due: number): void {
    const meeting = this.options.schedule.get(step.meetingId);
    if (!meeting || meeting.status !== 'scheduled' || meeting.plannedAt !== step.plannedAt) return;
    this.enqueue(step.meetingId, step.key, due, { step: { ...step, due } }, step.rank);
  }

  /** Queue work counters (the bench compares them with a naive scan). */
  get stats(): Readonly<DueQueueStats> & { queued: number; inFlight: number } {
    return { ...this.queue.stats, queued: this.queue.size, inFlight: this.inFlight.size };
  }

  /** Runs whatever is due now without waiting for the timer (tests, and a clock that jumped). */
  runDue(): number {
    return this.queue.runDue();
  }

  private onChange(change: ScheduleChange): void {
    const s = this.options.schedule;
    const m = change.meeting;
    if (change.kind === 'cancelled') this.drop(m.id);
    else this.replan(m);
    // The meeting before the (new) slot may gain or lose its close (back-to-back) or
    // switch between setback and off; so may the meeting before the old slot of a move.
    const before = s.previousIn(m.room, m.start);
    if (before) this.replan(before);
    if (change.kind === 'moved') {
      const oldBefore = s.previousIn(change.previous.room, change.previous.start);
      if (oldBefore && oldBefore.id !== before?.id) this.replan(oldBefore);
    }
  }

  private replan(meeting: Meeting): void {
    const room = this.rooms.get(meeting.room);
    // A running step the executor has already re-queued (close waiting for vacancy) keeps its new time.
    const requeued = [...(this.queued.get(meeting.id) ?? [])].filter((k) => this.running.get(k) === meeting.plannedAt).map((k) => this.queue.get(k)!);
    this.drop(meeting.id);
    for (const e of requeued) if ('step' in e.item) this.enqueue(meeting.id, e.item.step.key, e.due, e.item, e.item.step.rank);
    if (!room) {
      this.log.warn({ meeting: meeting.id, room: meeting.room }, 'timeline: meeting names a room this site does not have; not planned');
      return;
    }
    const horizon = this.options.horizonMs ?? DEFAULT_HORIZON_MS;
    const planAt = earliestStepTime(meeting, room, this.options.hvacEvaluateLeadMinutes) - horizon;
    if (planAt > this.options.clock.now()) return this.enqueue(meeting.id, placeholderKey(meeting.id), planAt, { planLater: meeting.id }, -1);
    const plan = this.computePlan(meeting, room);
    this.plans.set(meeting.id, plan);
    for (const step of plan.steps) this.enqueue(step.meetingId, step.key, step.due, { step }, step.rank);
    if (plan.minutesLate > 0) this.log.info({ meeting: meeting.id, room: meeting.room, minutesLate: plan.minutesLate }, 'timeline: booked late, compressed timeline (P13)');
  }

  private computePlan(meeting: Meeting, room: Pick<Room, 'policy' | 'devices'>): MeetingPlan {
    const s = this.options.schedule;
    let done = s.stepsDone(meeting.id);
    const prefix = `${meeting.id}#`;
    for (const [key, plannedAt] of this.running)
      if (plannedAt === meeting.plannedAt && key.startsWith(prefix)) done = new Set([...done, key.slice(prefix.length)]);
    return planMeeting(meeting, room, {
      now: this.options.clock.now(),
      next: s.nextIn(meeting.room, meeting.end),
      done,
      hvacEvaluateLeadMinutes: this.options.hvacEvaluateLeadMinutes,
    });
  }

  private enqueue(meetingId: string, key: string, due: number, entry: Entry, rank: number): void {
    let keys = this.queued.get(meetingId);
    if (!keys) this.queued.set(meetingId, (keys = new Set()));
    keys.add(key);
    this.queue.schedule(key, due, entry, rank);
  }

  private drop(meetingId: string): void {
    for (const key of this.queued.get(meetingId) ?? []) this.queue.cancel(key);
    this.queued.delete(meetingId);
    this.plans.delete(meetingId);
  }

  private dispatch(entry: Entry, key: string): void {
    if ('planLater' in entry) {
      this.queued.get(entry.planLater)?.delete(key);
      const m = this.options.schedule.get(entry.planLater);
      if (m && m.status === 'scheduled') this.replan(m);
      return;
    }
    const step = entry.step;
    this.queued.get(step.meetingId)?.delete(step.key);
    const s = this.options.schedule;
    const meeting = s.get(step.meetingId);
    // A step of a moved or cancelled booking that was already popped is dropped here.
    if (!meeting || meeting.status !== 'scheduled' || meeting.plannedAt !== step.plannedAt) return;
    this.running.set(step.key, step.plannedAt);
    const finish = () => {
      this.running.delete(step.key);
      if (this.queue.has(step.key)) return; // re-queued by the executor: not done yet
      const left = this.queued.get(step.meetingId);
      // The meeting's last step done: forget its plan (the executor has recorded the verdict).
      if (left && left.size === 0) {
        this.queued.delete(step.meetingId);
        this.plans.delete(step.meetingId);
      }
      const now = s.get(step.meetingId);
      if (!now || now.plannedAt !== step.plannedAt) return; // moved meanwhile: its new plan decides
      try {
        s.markStepDone(step.meetingId, step.name);
      } catch (err) {
        this.log.error({ err, step: step.key }, 'timeline: could not record a step as done');
      }
    };
    // The job's outcome decides: "later" re-queues the step (not done), anything else marks it done.
    const settle = (outcome: void | JobOutcome) => {
      if (outcome && outcome.kind === 'later') this.reschedule(step, outcome.at);
      finish();
    };
    let result: void | JobOutcome | Promise<void | JobOutcome>;
    try {
      result = this.options.run(step, meeting);
    } catch (err) {
      this.log.error({ err, step: step.key }, 'timeline: step failed');
      return finish();
    }
    if (!result || typeof (result as Promise<void>).then !== 'function') return settle(result as void | JobOutcome);
    const p: Promise<void> = (result as Promise<void | JobOutcome>)
      .then(
        (outcome) => {
          this.inFlight.delete(p);
          settle(outcome);
        },
        (err: unknown) => {
          this.log.error({ err, step: step.key }, 'timeline: step failed');
          this.inFlight.delete(p);
          finish();
        },
      );
    this.inFlight.add(p);
  }
}

const placeholderKey = (meetingId: string) => `${meetingId}#plan`;
