import { decideHvacStart, type HvacStartDecision, type ThermalLearner } from './optimal-start.ts';

/**
 * When to start a meeting's HVAC (P5). `optimal`: the room's learned pull-down for the
 * season (or a generous cold-start lead until learned), so it enters the band a few minutes
 * before the readiness check and not an hour early (optimal-start.ts). `fixed`: a fixed
 * pre-start, the common practice optimal start is measured against (bench/schedule.ts:
 * 60 and 120 minutes).
 */
export type HvacStrategy = { kind: 'optimal' } | { kind: 'fixed'; minutesBeforeStart: number };

export interface StartInput {
  room: string;
  now: number;
  /** The readiness check (T-15, P4). */
  readyAt: number;
  meetingStart: number;
  /** Good room temperature, if any. */
  temperature: number | undefined;
  band: [number, number];
}

export function decideStart(strategy: HvacStrategy, learner: ThermalLearner, input: StartInput): HvacStartDecision {
  const { now, readyAt, temperature, band } = input;
  if (strategy.kind === 'optimal') return decideHvacStart(learner, { room: input.room, now, readyAt, meetingStart: input.meetingStart, temperature, band });
  const startAt = input.meetingStart - strategy.minutesBeforeStart * 60_000;
  const setpoint = Math.round(((band[0] + band[1]) / 2) * 10) / 10;
  const direction = temperature === undefined ? 'hold' : temperature > band[1] ? 'cool' : temperature < band[0] ? 'heat' : 'hold';
  const base = { setpoint, direction, startAt, minutesNeeded: strategy.minutesBeforeStart, learned: false, reason: `fixed pre-start ${strategy.minutesBeforeStart} min` } as const;
  return startAt > now ? { ...base, action: 'wait', at: startAt } : { ...base, action: 'start', at: now };
}
