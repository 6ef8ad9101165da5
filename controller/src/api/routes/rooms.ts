import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { who } from '../guard.ts';
import type { RecentEvent } from '../recent-events.ts';
import { scopedRooms, seesConfidential, type Principal } from '../roles.ts';
import { errorBody, pointView, readinessNow, roomDetail, roomParams, roomSummary } from '../schemas.ts';
import { alertView, meetingView, pointViews, roomDetail as detailOf, roomSummary as summaryOf } from '../views.ts';

/**
 * Rooms: every room a token may see as a tile (phase, readiness, temperature against
 * the band, the focus meeting, alerts, device health, last scene); one room in full
 * (points with their quality, devices, the next day's meetings, scenes, alerts,
 * readiness); its points alone (cheap to poll); its recent events.
 */
export async function roomRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const room = (id: string) => ctx.site.rooms.find((x) => x.id === id)!;
  const errors = { 401: errorBody, 403: errorBody, 404: errorBody };

  r.get('/api/v1/rooms', {
    config: { permission: 'rooms:read' },
    schema: { tags: ['rooms'], summary: 'Every room in the token\'s scope, as a tile', response: { 200: z.object({ rooms: z.array(roomSummary) }), ...errors } },
    handler: async (req) => ({ rooms: scopedRooms(who(req), ctx.site.rooms).map((x) => summaryOf(ctx, x, who(req))) }),
  });

  r.get('/api/v1/rooms/:room', {
    config: { permission: 'rooms:read', roomParam: 'room' },
    schema: { tags: ['rooms'], summary: 'One room: state, points with quality, devices, next meetings, scenes, alerts, readiness', params: roomParams, response: { 200: roomDetail, ...errors } },
    handler: async (req) => detailOf(ctx, room(req.params.room), who(req)),
  });

  r.get('/api/v1/rooms/:room/points', {
    config: { permission: 'rooms:read', roomParam: 'room' },
    schema: { tags: ['rooms'], summary: 'The room\'s points with value, timestamp and quality', params: roomParams, response: { 200: z.object({ room: z.string(), ts: z.number(), points: z.array(pointView) }), ...errors } },
    handler: async (req) => ({ room: req.params.room, ts: ctx.clock.now(), points: pointViews(ctx, room(req.params.room)) }),
  });

  r.get('/api/v1/rooms/:room/readiness', {
    config: { permission: 'rooms:read', roomParam: 'room' },
    schema: { tags: ['readiness'], summary: 'The room\'s readiness now: phase, focus meeting, latest check statuses, verdict', params: roomParams, response: { 200: readinessNow, ...errors } },
    handler: async (req) => ctx.engine.readinessOf(req.params.room) as z.output<typeof readinessNow>,
  });

  r.get('/api/v1/rooms/:room/events', {
    config: { permission: 'events:read', roomParam: 'room' },
    schema: {
      tags: ['rooms'],
      summary: 'Recent events of the room, newest first: alerts, activity (scenes, steps, closes), verdicts, devices on/offline, bookings',
      params: roomParams,
      querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
      response: { 200: z.object({ room: z.string(), events: z.array(z.looseObject({ type: z.string(), ts: z.number(), room: z.string() })) }), ...errors },
    },
    handler: async (req) => ({ room: req.params.room, events: ctx.recent.of(req.params.room, req.query.limit).map((e) => eventView(ctx, e, who(req))) }),
  });
}

/** A recent event as a principal may see it (P15: bookings redacted; alerts with their ack). */
export function eventView(ctx: ApiContext, e: RecentEvent, p: Principal): Record<string, unknown> & { type: string; ts: number; room: string } {
  switch (e.type) {
    case 'meeting': {
      const full = seesConfidential(p) ? ctx.schedule.get(e.meeting.id) : undefined;
      const m = full ? { ...e.meeting, title: full.title, organizer: full.organizer } : e.meeting;
      return { ...e, meeting: meetingView(m, p) };
    }
    case 'alert':
      return { ...e, alert: alertView(ctx, e.alert) };
    default:
      return { ...e };
  }
}
