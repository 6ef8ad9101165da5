import type { Room } from '../config/load.ts';
import type { Meeting } from '../model/meetings.ts';
import { roomTemperature } from '../engine/intent/room-points.ts';
import type { AlertEvent } from '../model/events.ts';
import { comfortBand, seasonAt } from '../model/season.ts';
import type { ApiContext } from './context.ts';
import { seesConfidential, type Principal } from './roles.ts';
import type { AlertView, DeviceView, MeetingView, PointView, RoomDetail, RoomSummary, SceneView } from './schemas.ts';

/**
 * Builds the JSON the routes and the WebSocket send, from the service's live objects.
 * Redaction (P15) happens here, in one place: meetingView() copies a title or organizer
 * only for a principal allowed to see them (admin, scheduler, engineer).
 */
export function meetingView(m: Pick<Meeting, 'id' | 'room' | 'start' | 'end' | 'level' | 'attendees' | 'status' | 'plannedAt' | 'updatedAt' | 'title' | 'organizer'>, who: Pick<Principal, 'role'>): MeetingView {
  const v: MeetingView = { id: m.id, room: m.room, start: m.start, end: m.end, level: m.level, attendees: m.attendees, status: m.status, plannedAt: m.plannedAt, updatedAt: m.updatedAt };
  if (seesConfidential(who)) {
    if (m.title !== undefined) v.title = m.title;
    if (m.organizer !== undefined) v.organizer = m.organizer;
  }
  return v;
}

export function alertView(ctx: ApiContext, a: AlertEvent): AlertView {
  return { ...a, ack: ctx.acks.of(a) };
}

export function pointViews(ctx: ApiContext, room: Room): PointView[] {
  const defs = new Map(room.devices.flatMap((d) => d.points.map((p) => [p.id, p.def] as const)));
  return ctx.state.roomPoints(room.id).map((p) => {
    const def = defs.get(p.id);
    const v: PointView = { id: p.id, device: p.device, value: p.value, quality: p.quality, ts: p.ts || null, type: def?.type ?? 'string', writable: !!def?.writable };
    if (def?.unit) v.unit = def.unit;
    return v;
  });
}

export function deviceViews(ctx: ApiContext, room: Room): DeviceView[] {
  return room.devices.map((d) => {
    const h = ctx.state.deviceHealth(room.id, d.name);
    const v: DeviceView = { name: d.name, kind: d.profile.kind, profile: d.profile.id, protocol: d.profile.protocol, required: d.required, online: !!h?.online, errors: h?.errors ?? 0, ts: h?.ts ?? 0 };
    if (h?.lastError) v.lastError = h.lastError;
    if (h?.latencyMs !== undefined) v.latencyMs = h.latencyMs;
    return v;
  });
}

export function sceneViews(room: Room): SceneView[] {
  return Object.entries(room.scenes).map(([name, s]) => ({
    name,
    label: { ...(s.label ?? {}) },
    allowLocks: s.allow_locks,
    writes: s.steps.flatMap((step) => ('set' in step ? [{ point: step.set, value: step.value }] : [])),
    waitMs: s.steps.reduce((n, step) => n + ('wait_ms' in step ? step.wait_ms : 0), 0),
  }));
}

export function roomSummary(ctx: ApiContext, room: Room, who: Principal): RoomSummary {
  const now = ctx.clock.now();
  const season = seasonAt(ctx.site.config.site, now);
  const focus = ctx.engine.focusMeeting(room.id);
  const meeting = focus ? ctx.schedule.get(focus.id) : undefined;
  const readiness = ctx.engine.readinessOf(room.id) as { ready: boolean | null; failing: string[] };
  const alerts = ctx.engine.activeAlerts(room.id);
  const online = room.devices.filter((d) => ctx.state.deviceHealth(room.id, d.name)?.online).length;
  const last = ctx.engine.scenes.lastResult(room.id);
  return {
    id: room.id,
    name: room.name,
    floor: room.floor ?? null,
    capacity: room.capacity,
    phase: ctx.engine.phase(room.id),
    temperature: roomTemperature(ctx.state, room) ?? null,
    band: comfortBand(room.policy, season),
    season,
    ready: readiness.ready,
    failing: [...readiness.failing],
    meeting: meeting ? meetingView(meeting, who) : null,
    alertsActive: alerts.length,
    alertsCritical: alerts.filter((a) => a.severity === 'critical').length,
    devicesOnline: online,
    devicesTotal: room.devices.length,
    scene: last ? { name: last.scene, ok: last.ok, source: last.source, ts: last.ts } : null,
  };
}

export function roomDetail(ctx: ApiContext, room: Room, who: Principal): RoomDetail {
  const now = ctx.clock.now();
  return {
    ...roomSummary(ctx, room, who),
    points: pointViews(ctx, room),
    devices: deviceViews(ctx, room),
    meetings: ctx.schedule.inRoom(room.id, now, now + 86_400_000).map((m) => meetingView(m, who)),
    scenes: sceneViews(room),
    alerts: ctx.engine.activeAlerts(room.id).map((a) => alertView(ctx, a)),
    readiness: ctx.engine.readinessOf(room.id) as RoomDetail['readiness'],
    lastScene: ctx.engine.scenes.lastResult(room.id) ?? null,
  };
}
