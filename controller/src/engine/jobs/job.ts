import type { Room } from '../../config/load.ts';
import type { Logger } from '../../log.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { Meeting } from '../../model/meetings.ts';
import type { HvacStrategy } from '../hvac/hvac-start.ts';
import type { HvacLedger, ThermalLearner } from '../hvac/optimal-start.ts';
import type { Step } from '../intent/steps.ts';
import type { StateReader } from '../readiness/checks.ts';
import type { MeetingRef, ReadinessBook } from '../readiness/readiness-book.ts';
import type { RoomWatch } from '../readiness/room-watch.ts';
import type { RoomActions } from '../reconcile/actions.ts';
import type { SceneRunner } from '../reconcile/scenes.ts';
import type { Schedule } from '../timeline/schedule.ts';
import type { Waits } from '../timeline/waits.ts';
import type { Closer } from './closing.ts';

/**
 * A job is one timed procedure of a meeting (docs/procedures.md): a handler that does its
 * work and returns an outcome — done, or "not yet: again at T" (a close waiting for
 * the room to empty, optimal start deciding to wait, monitoring re-arming). The
 * timeline queues and re-queues steps from those outcomes; a handler never reaches
 * back into the timeline. What a job finds goes on the bus (`check`, `verdict`,
 * `readiness`, `activity`), where MQTT out, the API, the live socket and the recorder
 * pick it up.
 */
export type JobOutcome = { kind: 'done'; recheckAt?: number } | { kind: 'later'; at: number };

export const DONE: JobOutcome = { kind: 'done' };
export const later = (at: number): JobOutcome => ({ kind: 'later', at });

export interface JobSettings {
  hvac: HvacStrategy;
  monitorEveryMs: number;
  recheckEveryMs: number;
  closeRetryMs: number;
}

/** What the handlers work with: narrow parts (only what they call), never the engine. */
export interface JobDeps {
  actions: Pick<RoomActions, 'band' | 'check' | 'write' | 'hvacOnWrites' | 'hvacOffWrites' | 'hvacSetbackWrites' | 'startMicTest' | 'stopMicTest' | 'waitForMicLevels'>;
  closer: Pick<Closer, 'close'>;
  scenes: Pick<SceneRunner, 'apply'>;
  schedule: Pick<Schedule, 'previousIn' | 'nextIn'>;
  book: Pick<ReadinessBook, 'flush' | 'noteReadyCheck' | 'updateVerdict' | 'verdictAtStart'>;
  ledger: Pick<HvacLedger, 'hvacOff' | 'hvacOn' | 'started' | 'summary' | 'temperature'>;
  learner: ThermalLearner;
  watch: Pick<RoomWatch, 'endSession' | 'hasOccupancySensor' | 'phase' | 'phaseMeeting' | 'preparing' | 'presentSince' | 'setPhase' | 'setPreparing' | 'startSession' | 'vacantFor'>;
  state: StateReader;
  waits: Waits;
  clock: Clock;
  bus: EventBus;
  log: Logger;
  settings: JobSettings;
}

export type JobHandler = (deps: JobDeps, step: Step, meeting: Meeting, room: Room) => JobOutcome | Promise<JobOutcome>;

export const MIN = 60_000;

export const ref = (m: Pick<Meeting, 'id' | 'room' | 'level' | 'start' | 'end'>): MeetingRef => ({ id: m.id, room: m.room, level: m.level, start: m.start, end: m.end });

/** A check context for writes and alerts: the meeting and how far off it is. */
export const writeCtx = (deps: Pick<JobDeps, 'clock'>, meeting: Meeting) => ({ meetingId: meeting.id, minutesToStart: (meeting.start - deps.clock.now()) / MIN });

/** The room's readiness changed: the retained readiness topic follows (engine MQTT out). */
export const readinessChanged = (deps: Pick<JobDeps, 'bus' | 'clock'>, room: string) => deps.bus.emit('readiness', { room, ts: deps.clock.now() });
