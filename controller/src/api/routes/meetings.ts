import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { meetingInputSchema } from '../../model/meetings.ts';
import type { ApiContext } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { note, requireRoom, who } from '../guard.ts';
import { inScope } from '../roles.ts';
import { errorBody, instantQuery, meetingView } from '../schemas.ts';
import { meetingView as viewOf } from '../views.ts';

/**
 * Meetings: the booking system's way in. A booking is upserted by its external id
 * (PUT /meetings/:id, or POST /meetings with the id in the body): re-sending the same
 * booking changes nothing; new times move it (its timeline is re-planned); DELETE
 * cancels. Listing is by room and time window. Titles and organizers are accepted from
 * anyone allowed to book and shown only to admin, scheduler and engineer (P15).
 */
const idParams = z.object({ id: z.string().min(1).max(200) });
const bookingBody = meetingInputSchema.omit({ id: true }).extend({ id: z.string().optional() });
const upserted = z.object({ meeting: meetingView, change: z.enum(['added', 'updated', 'moved', 'cancelled', 'unchanged']) });

export async function meetingRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody, 422: errorBody };

  /**
   * The meeting of this id as the token may know it: one in a room outside the token's
   * scope — scheduled or cancelled — is answered exactly like one that does not exist
   * (issue 11), so a scoped token learns nothing about other rooms' bookings.
   */
  const visible = (req: Parameters<typeof who>[0], id: string) => {
    const m = ctx.schedule.get(id);
    if (m && !inScope(who(req), m.room)) {
      note(req, { room: m.room, reason: 'meeting in a room outside the token scope' });
      throw notFound('meeting', id);
    }
    return m;
  };

  const upsert = (req: Parameters<typeof who>[0], id: string, body: Record<string, unknown>) => {
    note(req, { target: id });
    // The room it is in now (moving a booking out of a room changes that room too) …
    visible(req, id);
    // … and the room it is booked or moved into.
    requireRoom(ctx, req, String(body.room));
    const { meeting, change } = ctx.schedule.upsert({ ...body, id });
    return { meeting: viewOf(meeting, who(req)), change };
  };

  r.get('/api/v1/meetings', {
    config: { permission: 'meetings:read' },
    schema: {
      tags: ['meetings'],
      summary: 'Scheduled meetings overlapping [from, to) (default: now to 7 days ahead), optionally of one room',
      querystring: z.strictObject({ room: z.string().min(1).max(100).optional(), from: instantQuery.optional(), to: instantQuery.optional() }),
      response: { 200: z.object({ from: z.number(), to: z.number(), meetings: z.array(meetingView) }), ...errors },
    },
    handler: async (req) => {
      const p = who(req);
      if (req.query.room !== undefined) requireRoom(ctx, req, req.query.room);
      const from = req.query.from ?? ctx.clock.now();
      const to = req.query.to ?? from + 7 * 86_400_000;
      const rooms = req.query.room !== undefined ? [req.query.room] : ctx.site.rooms.map((x) => x.id).filter((id) => inScope(p, id));
      const meetings = rooms.flatMap((id) => ctx.schedule.inRoom(id, from, to)).sort((a, b) => a.start - b.start || a.room.localeCompare(b.room));
      return { from, to, meetings: meetings.map((m) => viewOf(m, p)) };
    },
  });

  r.get('/api/v1/meetings/:id', {
    config: { permission: 'meetings:read' },
    schema: { tags: ['meetings'], summary: 'One meeting by its external id (cancelled ones too)', params: idParams, response: { 200: meetingView, ...errors } },
    handler: async (req) => {
      const m = visible(req, req.params.id);
      if (!m) throw notFound('meeting', req.params.id);
      return viewOf(m, who(req));
    },
  });

  r.put('/api/v1/meetings/:id', {
    config: { permission: 'meetings:write' },
    schema: { tags: ['meetings'], summary: 'Add or change a booking by its external id (201 when added)', params: idParams, body: bookingBody, response: { 200: upserted, 201: upserted, ...errors } },
    handler: async (req, reply) => {
      if (req.body.id !== undefined && req.body.id !== req.params.id) throw new ApiError(400, 'validation', `body.id "${req.body.id}" differs from the id in the path "${req.params.id}"`, 'body.id');
      const out = upsert(req, req.params.id, req.body);
      return reply.code(out.change === 'added' ? 201 : 200).send(out);
    },
  });

  r.post('/api/v1/meetings', {
    config: { permission: 'meetings:write' },
    schema: { tags: ['meetings'], summary: 'Add or change a booking; the id is in the body (201 when added)', body: meetingInputSchema, response: { 200: upserted, 201: upserted, ...errors } },
    handler: async (req, reply) => {
      const out = upsert(req, req.body.id, req.body);
      return reply.code(out.change === 'added' ? 201 : 200).send(out);
    },
  });

  r.delete('/api/v1/meetings/:id', {
    config: { permission: 'meetings:write' },
    schema: { tags: ['meetings'], summary: 'Cancel a booking (idempotent); a room being prepared for it is released', params: idParams, response: { 200: z.object({ meeting: meetingView }), ...errors } },
    handler: async (req) => {
      note(req, { target: req.params.id });
      const m = visible(req, req.params.id);
      if (!m) throw notFound('meeting', req.params.id);
      requireRoom(ctx, req, m.room);
      return { meeting: viewOf(ctx.schedule.cancel(req.params.id), who(req)) };
    },
  });
}
