import { z } from 'zod';
import { MEETING_LEVELS } from '../model/meetings.ts';
import { ROLES } from './roles.ts';

/**
 * The JSON shapes of the API, as zod schemas: they validate requests, shape responses
 * and are the OpenAPI document at /docs. Times are epoch milliseconds of the service's
 * clock (virtual in the demo: `GET /api/v1/site` and the WebSocket `hello` give its
 * `now` and `speed`, so a page can count down in the same time). Meeting titles and
 * organizers are present only for admin, scheduler and engineer tokens (P15); for other
 * roles the keys are absent.
 */
export const pointValue = z.union([z.number(), z.boolean(), z.string()]);
export const quality = z.enum(['good', 'stale', 'offline']);

export const errorBody = z
  .object({ error: z.string(), message: z.string(), path: z.string(), problems: z.array(z.string()).optional(), code: z.number().optional() })
  .meta({ description: 'Every 4xx/5xx answer' });

export const meetingView = z.object({
  id: z.string(),
  room: z.string(),
  start: z.number(),
  end: z.number(),
  level: z.enum(MEETING_LEVELS),
  attendees: z.number(),
  status: z.enum(['scheduled', 'cancelled']),
  plannedAt: z.number(),
  updatedAt: z.number(),
  title: z.string().optional().describe('admin, scheduler, engineer only (P15)'),
  organizer: z.string().optional().describe('admin, scheduler, engineer only (P15)'),
});

export const pointView = z.object({
  id: z.string(),
  device: z.string(),
  value: pointValue.nullable(),
  quality,
  /** Last reading (clock ms); null if never. */
  ts: z.number().nullable(),
  type: z.enum(['number', 'boolean', 'enum', 'string']),
  writable: z.boolean(),
  unit: z.string().optional(),
});

export const deviceView = z.object({
  name: z.string(),
  kind: z.string(),
  profile: z.string(),
  protocol: z.enum(['mqtt', 'modbus']),
  required: z.boolean(),
  online: z.boolean(),
  errors: z.number(),
  lastError: z.string().optional(),
  latencyMs: z.number().optional(),
  ts: z.number(),
});

export const sceneView = z.object({
  name: z.string(),
  label: z.object({ en: z.string().optional(), 'zh-CN': z.string().optional() }),
  allowLocks: z.boolean(),
  /** The points it writes, in order. */
  writes: z.array(z.object({ point: z.string(), value: pointValue })),
  waitMs: z.number(),
});

export const sceneResult = z.object({
  room: z.string(),
  scene: z.string(),
  ok: z.boolean(),
  applied: z.array(z.object({ point: z.string(), value: pointValue, sent: pointValue.optional(), confirmed: z.boolean(), attempts: z.number() })),
  failed: z.object({ point: z.string().optional(), reason: z.string() }).optional(),
  skipped: z.array(z.object({ point: z.string(), why: z.string() })),
  source: z.string(),
  meetingId: z.string().optional(),
  started: z.number(),
  ts: z.number(),
});

const observed = z.union([pointValue, z.array(pointValue)]).nullable().optional();

export const checkOutcome = z.object({
  room: z.string(),
  meetingId: z.string().optional(),
  level: z.enum(MEETING_LEVELS).optional(),
  check: z.string(),
  status: z.enum(['pass', 'fail', 'unknown']),
  observed,
  expected: z.string().optional(),
  step: z.string().optional(),
  ts: z.number(),
});

export const verdict = z.object({
  room: z.string(),
  meetingId: z.string(),
  level: z.enum(MEETING_LEVELS),
  start: z.number(),
  end: z.number(),
  readyAtReadyCheck: z.boolean(),
  readyAtStart: z.boolean(),
  minutesReadyBeforeStart: z.number().nullable(),
  minutesLate: z.number(),
  minutesInBandBeforeStart: z.number().nullable(),
  hvacMinutes: z.number(),
  failingChecks: z.array(z.string()),
  noShow: z.boolean(),
  ts: z.number(),
});

export const readinessRecord = z.object({
  meeting: z.object({ id: z.string(), room: z.string(), level: z.enum(MEETING_LEVELS), start: z.number(), end: z.number() }),
  checks: z.record(z.string(), z.array(z.object({ step: z.string().optional(), status: z.enum(['pass', 'fail', 'unknown']), observed, expected: z.string().optional(), ts: z.number(), runs: z.number() }))),
  readyCheck: z.object({ ts: z.number(), ready: z.boolean(), failing: z.array(z.string()) }).optional(),
  firstReadyAt: z.number().optional(),
  verdict: verdict.optional(),
});

export const alertView = z.object({
  id: z.string(),
  room: z.string(),
  meetingId: z.string().optional(),
  check: z.string(),
  state: z.enum(['raised', 'cleared']),
  severity: z.enum(['warning', 'critical']),
  message: z.string(),
  observed,
  expected: z.string().optional(),
  minutesToStart: z.number().optional(),
  ts: z.number(),
  ack: z.object({ by: z.string(), role: z.enum(ROLES), at: z.number(), note: z.string().optional() }).nullable(),
});

export const readinessNow = z.object({
  room: z.string(),
  phase: z.string(),
  meeting: z.object({ id: z.string(), level: z.string(), start: z.number(), end: z.number() }).nullable(),
  ready: z.boolean().nullable(),
  checks: z.record(z.string(), z.string()),
  failing: z.array(z.string()),
  verdict: verdict.nullable(),
  ts: z.number(),
});

export const roomSummary = z.object({
  id: z.string(),
  name: z.string(),
  floor: z.union([z.string(), z.number()]).nullable(),
  capacity: z.number(),
  phase: z.string(),
  /** Mean of the room's HVAC sensors with good quality; null if none. */
  temperature: z.number().nullable(),
  /** The comfort band of the season now (P5), °C. */
  band: z.tuple([z.number(), z.number()]),
  season: z.enum(['summer', 'winter', 'transition']),
  ready: z.boolean().nullable(),
  failing: z.array(z.string()),
  /** The meeting the room is busy with, or its next one within a day. */
  meeting: meetingView.nullable(),
  alertsActive: z.number(),
  alertsCritical: z.number(),
  devicesOnline: z.number(),
  devicesTotal: z.number(),
  /** The last scene applied (what the retained scene topic holds). */
  scene: z.object({ name: z.string(), ok: z.boolean(), source: z.string(), ts: z.number() }).nullable(),
});

export const roomDetail = roomSummary.extend({
  points: z.array(pointView),
  devices: z.array(deviceView),
  /** Scheduled meetings from now to 24 h ahead (the current one included). */
  meetings: z.array(meetingView),
  scenes: z.array(sceneView),
  alerts: z.array(alertView),
  readiness: readinessNow,
  lastScene: sceneResult.nullable(),
});

export const tokenInfo = z.object({
  id: z.string(),
  role: z.enum(ROLES),
  rooms: z.array(z.string()).optional(),
  label: z.string().optional(),
  created: z.string(),
  expires: z.string().optional(),
  revoked: z.string().optional(),
  state: z.enum(['active', 'expired', 'revoked']),
});

/** Route parameters: any text up to the router's limit; an unknown room/scene is a 404 that names it. */
export const roomParams = z.object({ room: z.string().min(1).max(100) });
export const instantQuery = z.union([z.coerce.number().int(), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))]);

export type MeetingView = z.output<typeof meetingView>;
export type PointView = z.output<typeof pointView>;
export type DeviceView = z.output<typeof deviceView>;
export type SceneView = z.output<typeof sceneView>;
export type AlertView = z.output<typeof alertView>;
export type RoomSummary = z.output<typeof roomSummary>;
export type RoomDetail = z.output<typeof roomDetail>;
