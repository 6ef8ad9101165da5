import type { PointValue } from './points.ts';

/**
 * Engine events that cross feature boundaries (recorder, MQTT state topics, API).
 * P15: none of these carries a meeting title or organizer — only ids and levels.
 */
export type MeetingLevel = 'normal' | 'vip3' | 'vip2' | 'vip1';
export type CheckStatus = 'pass' | 'fail' | 'unknown';

/** One check's outcome for a room (and a meeting, when it ran for one). */
export interface CheckOutcome {
  room: string;
  meetingId?: string;
  level?: MeetingLevel;
  /** Stable check name, e.g. `temperature_in_band`, `mic_test`, `display_on`. */
  check: string;
  status: CheckStatus;
  observed?: PointValue | PointValue[] | null;
  expected?: string;
  /** The step that ran it, e.g. `ready` (T-15, P4), `final_sound` (T-5, P3). */
  step?: string;
  ts: number;
}

/** A meeting's verdict, recorded when it starts (and updated if it ends as a no-show). */
export interface MeetingVerdict {
  room: string;
  meetingId: string;
  level: MeetingLevel;
  start: number;
  end: number;
  readyAtReadyCheck: boolean;
  readyAtStart: boolean;
  /** Minutes before start at which every required check first passed (negative = late). */
  minutesReadyBeforeStart: number | null;
  /** Minutes the booking arrived too late for its lead times (P13), 0 if on time. */
  minutesLate: number;
  minutesInBandBeforeStart: number | null;
  hvacMinutes: number;
  failingChecks: string[];
  noShow: boolean;
  ts: number;
}

export interface AlertEvent {
  /** Stable per room+check(+meeting): raised once, cleared once. */
  id: string;
  room: string;
  meetingId?: string;
  check: string;
  state: 'raised' | 'cleared';
  severity: 'warning' | 'critical';
  message: string;
  observed?: PointValue | PointValue[] | null;
  expected?: string;
  /** Minutes left before the meeting starts (negative once it has started). */
  minutesToStart?: number;
  /** A cleared alert: why it cleared (what the condition shows now). */
  reason?: string;
  ts: number;
}

/** Something roomctl did: scenes, closes, routines, no-shows, self-tests. */
export interface ActivityEvent {
  room?: string;
  kind: 'scene' | 'step' | 'close' | 'routine' | 'no_show' | 'self_test' | 'release';
  name: string;
  result: 'ok' | 'partial' | 'failed';
  detail?: string;
  meetingId?: string;
  ts: number;
}
