import type { Room } from '../../config/load.ts';
import type { Policy } from '../../config/policy-schema.ts';
import type { Meeting } from '../../model/meetings.ts';
import { MAX_PRECONDITION_MINUTES } from '../hvac/optimal-start.ts';

/**
 * Expands one meeting into its timed steps, from its room's policy (docs/procedures.md).
 * Pure: the same meeting, policy, neighbours and "now" always give the same plan, so
 * re-planning after a move or cancel is simply planning again.
 */
export type StepKind =
  | 'vip_check' // P10/P11/P12: full equipment check days (or hours) ahead
  | 'hvac_precondition' // P5: optimal start evaluation; the executor decides when to start HVAC
  | 'av_on' // P2/P16: displays on, DSP unmuted, mic test, fresh air on (T-30; T-2h for vip3, P12)
  | 'ready' // P4: lights to the meeting scene, full readiness check (T-15)
  | 'final_sound' // P3: last sound check (T-5)
  | 'session_start' // the verdict at start
  | 'monitor' // P6: in-session check; its job returns "later" until the end
  | 'no_show' // nobody present N minutes after start → release
  | 'end' // monitoring stops, end recorded
  | 'close'; // P7: close once vacant (lights/display off, HVAC setback or off, lock)

export interface Step {
  /** Unique across the site: `<meeting id>#<name>`. */
  key: string;
  /** Unique within the meeting, e.g. `av_on`, `vip_check@7d`; what "done" is recorded under. */
  name: string;
  kind: StepKind;
  meetingId: string;
  room: string;
  /** When it runs: the nominal time, or "now" if that has passed (P13 compressed timeline). */
  due: number;
  /** When the policy wants it. */
  nominal: number;
  /** How far past its nominal time it was planned (P13), 0 when on time. */
  lateMinutes: number;
  /** Order among steps due at the same instant. */
  rank: number;
  procedures: string[];
  /** The booking generation it was planned for (Meeting.plannedAt): a moved meeting's old steps are recognisable. */
  plannedAt: number;
  /** close only: P7 setback when another meeting follows within the policy horizon, else off. */
  hvacAfter?: 'setback' | 'off';
  /** end only: a close follows (false between back-to-back meetings). */
  closes?: boolean;
}

export interface MeetingPlan {
  meetingId: string;
  room: string;
  steps: Step[];
  /** P13: minutes the booking arrived after its first preparation step should have run. */
  minutesLate: number;
  /** Set when the next meeting follows so closely that this one does not close the room. */
  backToBackWith?: string;
  /** Steps left out, each with why (done already, back-to-back, superseded VIP check, too old). */
  omitted: { name: string; why: string }[];
}

export interface PlanContext {
  now: number;
  /** The next scheduled meeting in the same room (starting at or after this one's end). */
  next?: Meeting;
  /** Step names already carried out (from the schedule; survives restarts). */
  done?: ReadonlySet<string>;
  /** How long before T-15 optimal start begins evaluating; default MAX_PRECONDITION_MINUTES. */
  hvacEvaluateLeadMinutes?: number;
}

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
/** Meetings that ended longer ago than this are not acted on when planned (e.g. after a long outage). */
export const STALE_AFTER_END_MS = 12 * 3600_000;

const RANK: Record<StepKind, number> = { hvac_precondition: 0, av_on: 1, vip_check: 2, ready: 3, final_sound: 4, session_start: 5, monitor: 6, no_show: 7, end: 8, close: 9 };

/** Minutes before start of the meeting's first on-day preparation (AV on): T-30, or T-2h for vip3 (P12). */
export function avLeadMinutes(policy: Policy, level: Meeting['level']): number {
  return level === 'vip3' ? Math.max(policy.lead_minutes.av, policy.lead_minutes.vip3) : policy.lead_minutes.av;
}

/** Back-to-back: the next meeting's preparation begins before this room could be closed (end + vacancy window). */
export function isBackToBack(policy: Policy, meeting: Meeting, next: Meeting | undefined): boolean {
  if (!next || next.room !== meeting.room || next.start < meeting.end) return false;
  return next.start - avLeadMinutes(policy, next.level) * MIN <= meeting.end + policy.vacancy_minutes * MIN;
}

/** The nominal time of a meeting's earliest step: the Timeline plans a meeting in full only once this is near. */
export function earliestStepTime(meeting: Meeting, room: Pick<Room, 'policy' | 'devices'>, hvacEvaluateLeadMinutes = MAX_PRECONDITION_MINUTES): number {
  const p = room.policy;
  let lead = Math.max(avLeadMinutes(p, meeting.level), p.lead_minutes.ready, p.lead_minutes.final_sound) * MIN;
  if (room.devices.some((d) => d.profile.kind === 'hvac')) lead = Math.max(lead, (p.lead_minutes.ready + hvacEvaluateLeadMinutes) * MIN);
  const days = meeting.level === 'vip1' ? p.vip_check_days.vip1 : meeting.level === 'vip2' ? p.vip_check_days.vip2 : [];
  for (const d of days) lead = Math.max(lead, d * DAY);
  return meeting.start - lead;
}

export function planMeeting(meeting: Meeting, room: Pick<Room, 'policy' | 'devices'>, ctx: PlanContext): MeetingPlan {
  const policy = room.policy;
  const { now } = ctx;
  const done = ctx.done ?? new Set<string>();
  const plan: MeetingPlan = { meetingId: meeting.id, room: meeting.room, steps: [], minutesLate: 0, omitted: [] };
  const avAt = meeting.start - avLeadMinutes(policy, meeting.level) * MIN;
  plan.minutesLate = round1(Math.max(0, meeting.plannedAt - avAt) / MIN);
  if (meeting.status !== 'scheduled') return plan;
  if (meeting.end <= now - STALE_AFTER_END_MS) {
    plan.omitted.push({ name: '*', why: 'ended more than 12 h ago' });
    return plan;
  }

  const candidates: { name: string; kind: StepKind; nominal: number; procedures: string[]; hvacAfter?: 'setback' | 'off'; closes?: boolean }[] = [];
  const started = meeting.start <= now;
  const ended = meeting.end <= now;

  if (!started) candidates.push(...vipChecks(meeting, policy, now, plan));
  if (!ended) {
    if (room.devices.some((d) => d.profile.kind === 'hvac')) {
      const lead = ctx.hvacEvaluateLeadMinutes ?? MAX_PRECONDITION_MINUTES;
      candidates.push({ name: 'hvac_precondition', kind: 'hvac_precondition', nominal: meeting.start - (policy.lead_minutes.ready + lead) * MIN, procedures: ['P5'] });
    }
    candidates.push({ name: 'av_on', kind: 'av_on', nominal: avAt, procedures: meeting.level === 'vip3' ? ['P2', 'P16', 'P12'] : ['P2', 'P16'] });
    candidates.push({ name: 'ready', kind: 'ready', nominal: meeting.start - policy.lead_minutes.ready * MIN, procedures: ['P4', 'P5'] });
    candidates.push({ name: 'final_sound', kind: 'final_sound', nominal: meeting.start - policy.lead_minutes.final_sound * MIN, procedures: ['P3'] });
    candidates.push({ name: 'session_start', kind: 'session_start', nominal: meeting.start, procedures: ['P4'] });
    candidates.push({ name: 'monitor', kind: 'monitor', nominal: meeting.start, procedures: ['P6'] });
    const noShowAt = meeting.start + policy.no_show_minutes * MIN;
    if (policy.no_show_minutes > 0 && noShowAt < meeting.end) candidates.push({ name: 'no_show', kind: 'no_show', nominal: noShowAt, procedures: [] });
  }
  const backToBack = isBackToBack(policy, meeting, ctx.next);
  candidates.push({ name: 'end', kind: 'end', nominal: meeting.end, procedures: ['P6'], closes: !backToBack });
  if (backToBack) {
    plan.backToBackWith = ctx.next!.id;
    plan.omitted.push({ name: 'close', why: `back-to-back with ${ctx.next!.id}` });
  } else {
    const next = ctx.next;
    const soon = next !== undefined && next.start - meeting.end <= policy.hvac_off_horizon_minutes * MIN;
    candidates.push({ name: 'close', kind: 'close', nominal: meeting.end, procedures: ['P7'], hvacAfter: soon ? 'setback' : 'off' });
  }

  for (const c of candidates) {
    if (done.has(c.name)) {
      plan.omitted.push({ name: c.name, why: 'done' });
      continue;
    }
    const late = Math.max(0, now - c.nominal);
    plan.steps.push({
      key: `${meeting.id}#${c.name}`,
      name: c.name,
      kind: c.kind,
      meetingId: meeting.id,
      room: meeting.room,
      due: Math.max(c.nominal, now),
      nominal: c.nominal,
      // The HVAC evaluation window opening early is not lateness; the executor judges it.
      lateMinutes: c.kind === 'hvac_precondition' ? 0 : round1(late / MIN),
      rank: RANK[c.kind],
      procedures: c.procedures,
      plannedAt: meeting.plannedAt,
      ...(c.hvacAfter ? { hvacAfter: c.hvacAfter } : {}),
      ...(c.closes !== undefined ? { closes: c.closes } : {}),
    });
  }
  plan.steps.sort((a, b) => a.due - b.due || a.rank - b.rank);
  return plan;
}

/**
 * P10 vip1: 7 and 1 days before; P11 vip2: 2 days; P12 vip3: at T-2h. Checks whose time
 * has passed collapse into one check now (the latest missed one): running the 7-day
 * check and the 1-day check back to back would only repeat it.
 */
function vipChecks(meeting: Meeting, policy: Policy, now: number, plan: MeetingPlan) {
  const list: { name: string; nominal: number; procedures: string[] }[] = [];
  if (meeting.level === 'vip1') for (const d of policy.vip_check_days.vip1) list.push({ name: `vip_check@${d}d`, nominal: meeting.start - d * DAY, procedures: ['P10'] });
  if (meeting.level === 'vip2') for (const d of policy.vip_check_days.vip2) list.push({ name: `vip_check@${d}d`, nominal: meeting.start - d * DAY, procedures: ['P11'] });
  if (meeting.level === 'vip3') list.push({ name: `vip_check@${policy.lead_minutes.vip3}m`, nominal: meeting.start - policy.lead_minutes.vip3 * MIN, procedures: ['P12'] });
  list.sort((a, b) => a.nominal - b.nominal);
  const missed = list.filter((c) => c.nominal < now);
  for (const c of missed.slice(0, -1)) plan.omitted.push({ name: c.name, why: `superseded by ${missed.at(-1)!.name}, run now` });
  const keep = new Set([...missed.slice(-1), ...list.filter((c) => c.nominal >= now)]);
  return list.filter((c) => keep.has(c)).map((c) => ({ ...c, kind: 'vip_check' as const }));
}

const round1 = (x: number) => Math.round(x * 10) / 10;
