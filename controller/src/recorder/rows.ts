import type { CommandRecord, DeviceHealth, PointUpdate, PointValue } from '../model/points.ts';
import type { ActivityEvent, AlertEvent, CheckOutcome, MeetingVerdict } from '../model/events.ts';
import { quoteString, type FieldValue, type Row } from './line-protocol.ts';

/**
 * Bus events → InfluxDB rows. Every field is picked by name from the event's type;
 * nothing is ever spread from an event, so a field the type does not declare (a
 * meeting title, an organizer: P15) cannot reach InfluxDB. Free text (alert messages,
 * activity details) is not written either: it is where a title would slip in.
 *
 * Tags are low-cardinality only: site, room, device, point, check, step, status, level,
 * kind, name, result, severity. Ids (meeting, alert, command) are fields.
 */
export const Measurement = { telemetry: 'telemetry', readiness: 'readiness', meeting: 'meeting', event: 'event', device: 'device' } as const;

/** Retention policy names: raw (telemetry, device health) and long (everything else, 5-minute means). */
export const RP = { raw: 'raw', long: 'long' } as const;
export type RpName = (typeof RP)[keyof typeof RP];

export interface RoutedRow extends Row {
  rp: RpName;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** An identity tag: passed as it is, so the encoder rejects the row when it is missing or not text. */
const tag = (v: unknown): string => v as string;
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const flag = (v: unknown): number | undefined => (typeof v === 'boolean' ? (v ? 1 : 0) : undefined);

/** A point value as fields: numbers and booleans (0/1) in `<name>`, text in `<name>_text`. */
export function valueFields(name: string, v: PointValue | PointValue[] | null | undefined): Record<string, FieldValue | undefined> {
  if (typeof v === 'number') return { [name]: v };
  if (typeof v === 'boolean') return { [name]: v ? 1 : 0 };
  if (typeof v === 'string') return { [`${name}_text`]: v };
  if (Array.isArray(v)) return { [`${name}_text`]: v.map((x) => String(x)).join(',') };
  if (v === null || v === undefined) return {};
  return { [name]: v as never }; // anything else is rejected by the encoder, alone
}

export function telemetryRow(site: string, u: PointUpdate, sample: boolean, ts = u.ts): RoutedRow {
  const v = u.value;
  const fields: Record<string, FieldValue | null | undefined> = { quality: str(u.quality), sample };
  // Numbers and booleans (0/1) in `value`; enums and text in `state`.
  if (typeof v === 'string') fields.state = v;
  else if (typeof v === 'boolean') fields.value = v ? 1 : 0;
  else if (v !== null && v !== undefined) fields.value = v as number;
  return { rp: RP.raw, measurement: Measurement.telemetry, tags: { site, room: tag(u.room), device: tag(u.device), point: tag(u.point) }, required: ['room', 'device', 'point'], fields, ts };
}

/** The leading fields of a telemetry line, [change, sample], per quality: made once, not per point. */
const GOOD = ['quality="good",sample=false', 'quality="good",sample=true'] as const;
const STALE = ['quality="stale",sample=false', 'quality="stale",sample=true'] as const;
const OFFLINE = ['quality="offline",sample=false', 'quality="offline",sample=true'] as const;
const qualityHead = (q: unknown) => (q === 'good' ? GOOD : q === 'stale' ? STALE : q === 'offline' ? OFFLINE : undefined);

/**
 * The fields of a telemetry row as line protocol, exactly as telemetryRow() + the
 * encoder would write them: the recorder's hot path (most points are telemetry).
 */
export function telemetryFields(u: PointUpdate, sample: boolean): string | { reason: string } {
  const q = qualityHead(u.quality);
  if (q === undefined) return { reason: `quality ${String(u.quality)} is not good/stale/offline` };
  const head = q[sample ? 1 : 0];
  const v = u.value;
  if (typeof v === 'number') return Number.isFinite(v) ? `${head},value=${Object.is(v, -0) ? 0 : v}` : { reason: `field value is ${v}, not a finite number` };
  if (typeof v === 'boolean') return `${head},value=${v ? 1 : 0}`;
  if (typeof v === 'string') return `${head},state=${quoteString(v)}`;
  if (v === null || v === undefined) return head;
  return { reason: `field value is ${typeof v}, not a number, boolean or text` };
}

export function readinessRow(site: string, c: CheckOutcome): RoutedRow {
  const band = parseBand(c.expected);
  return {
    rp: RP.long,
    measurement: Measurement.readiness,
    tags: { site, room: tag(c.room), check: tag(c.check), status: tag(c.status), step: str(c.step), level: str(c.level) },
    required: ['room', 'check', 'status'],
    fields: {
      passed: c.status === 'pass' ? 1 : c.status === 'fail' || c.status === 'unknown' ? 0 : undefined,
      meeting_id: str(c.meetingId),
      ...valueFields('observed', c.observed),
      expected: str(c.expected),
      expected_min: band?.[0],
      expected_max: band?.[1],
    },
    ts: c.ts,
  };
}

/**
 * One row per meeting, at its start time: the verdict at start and a later no-show
 * update land on the same series and timestamp, so the update replaces the first.
 */
export function meetingRow(site: string, m: MeetingVerdict): RoutedRow {
  const failing = Array.isArray(m.failingChecks) ? m.failingChecks.filter((x) => typeof x === 'string') : [];
  return {
    rp: RP.long,
    measurement: Measurement.meeting,
    tags: { site, room: tag(m.room), level: str(m.level) },
    required: ['room'],
    fields: {
      meeting_id: str(m.meetingId),
      ready_t15: flag(m.readyAtReadyCheck),
      ready_at_start: flag(m.readyAtStart),
      minutes_ready_before_start: num(m.minutesReadyBeforeStart),
      minutes_late: num(m.minutesLate),
      late: typeof m.minutesLate === 'number' ? (m.minutesLate > 0 ? 1 : 0) : undefined,
      minutes_in_band_before_start: num(m.minutesInBandBeforeStart),
      hvac_minutes: num(m.hvacMinutes),
      duration_minutes: typeof m.end === 'number' && typeof m.start === 'number' ? (m.end - m.start) / 60_000 : undefined,
      failing_checks: failing.join(','),
      failing_count: failing.length,
      no_show: flag(m.noShow),
      n: 1,
    },
    ts: m.start,
    unique: false,
  };
}

export function activityRow(site: string, a: ActivityEvent): RoutedRow {
  return {
    rp: RP.long,
    measurement: Measurement.event,
    tags: { site, room: str(a.room), kind: tag(a.kind), name: tag(a.name), result: str(a.result) },
    required: ['kind', 'name'],
    fields: { n: 1, label: str(a.name), ok: a.result === 'ok' ? 1 : 0, meeting_id: str(a.meetingId) },
    ts: a.ts,
  };
}

/** A room's phase change (preparing, ready, in_session, closing…): an event row, so dashboards can show the room's day. */
export function phaseRow(site: string, p: { room: string; phase: string; meetingId?: string; ts: number }): RoutedRow {
  return {
    rp: RP.long,
    measurement: Measurement.event,
    tags: { site, room: str(p.room), kind: 'phase', name: tag(p.phase), result: 'ok' },
    required: ['name'],
    fields: { n: 1, label: str(p.phase), ok: 1, meeting_id: str(p.meetingId) },
    ts: p.ts,
  };
}

export function alertRow(site: string, a: AlertEvent): RoutedRow {
  return {
    rp: RP.long,
    measurement: Measurement.event,
    tags: { site, room: str(a.room), kind: 'alert', name: tag(a.check), result: tag(a.state), severity: str(a.severity) },
    required: ['name', 'result'],
    fields: {
      n: 1,
      label: str(a.check),
      open: a.state === 'raised' ? 1 : a.state === 'cleared' ? 0 : undefined,
      alert_id: str(a.id),
      meeting_id: str(a.meetingId),
      ...valueFields('observed', a.observed),
      expected: str(a.expected),
      minutes_to_start: num(a.minutesToStart),
    },
    ts: a.ts,
  };
}

export function commandRow(site: string, c: CommandRecord): RoutedRow {
  return {
    rp: RP.long,
    measurement: Measurement.event,
    tags: { site, room: tag(c.room), kind: 'command', name: tag(c.point), result: c.clamped ? 'clamped' : 'sent', device: str(c.device) },
    required: ['room', 'name'],
    fields: { n: 1, label: str(c.point), ...valueFields('requested', c.requested), ...valueFields('sent', c.sent), clamped: flag(c.clamped), command_id: str(c.commandId) },
    ts: c.ts,
  };
}

export function deviceRow(site: string, d: DeviceHealth, latencyMaxMs?: number): RoutedRow {
  return {
    rp: RP.raw,
    measurement: Measurement.device,
    tags: { site, room: tag(d.room), device: tag(d.device) },
    required: ['room', 'device'],
    fields: {
      online: flag(d.online),
      errors: num(d.errors),
      latency_ms: num(d.latencyMs),
      latency_max_ms: latencyMaxMs ?? num(d.latencyMs),
      // Adapter error text (timeouts, exception codes): device facts, cut short.
      last_error: str(d.lastError)?.slice(0, 200),
    },
    ts: d.ts,
  };
}

/** "22–24 °C", "22-24", "18 .. 22" → [22, 24]: lets a dashboard draw the comfort band (P5). */
export function parseBand(expected: unknown): [number, number] | undefined {
  if (typeof expected !== 'string') return undefined;
  const m = /(-?\d+(?:\.\d+)?)\s*(?:–|—|-|\.\.|to)\s*(-?\d+(?:\.\d+)?)/.exec(expected);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  return lo <= hi ? [lo, hi] : undefined;
}
