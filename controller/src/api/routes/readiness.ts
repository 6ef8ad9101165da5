import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { requireRoom, who } from '../guard.ts';
import { inScope } from '../roles.ts';
import { errorBody, instantQuery, readinessRecord as record, verdict } from '../schemas.ts';

/**
 * Readiness history: per meeting, every check's outcomes over time, the T-15 result
 * (P4) and the verdict at the start — by room and time window of the meetings' starts.
 * `?detail=verdicts` gives only the verdicts (what a report needs). Records carry
 * meeting ids, levels and times, never a title (P15), so viewers see them whole.
 */

export async function readinessRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };

  r.get('/api/v1/readiness', {
    config: { permission: 'readiness:read' },
    schema: {
      tags: ['readiness'],
      summary: 'Readiness records of meetings starting in [from, to) (default: the last 7 days and the next day)',
      querystring: z.strictObject({ room: z.string().min(1).max(100).optional(), from: instantQuery.optional(), to: instantQuery.optional(), detail: z.enum(['records', 'verdicts']).default('records') }),
      response: { 200: z.object({ from: z.number(), to: z.number(), records: z.array(record).optional(), verdicts: z.array(verdict).optional() }), ...errors },
    },
    handler: async (req) => {
      const p = who(req);
      if (req.query.room !== undefined) requireRoom(ctx, req, req.query.room);
      const now = ctx.clock.now();
      const from = req.query.from ?? now - 7 * 86_400_000;
      const to = req.query.to ?? now + 86_400_000;
      const filter = { room: req.query.room, from, to };
      if (req.query.detail === 'verdicts') return { from, to, verdicts: ctx.engine.readiness.verdicts(filter).filter((v) => inScope(p, v.room)) };
      return { from, to, records: ctx.engine.readiness.history(filter).filter((x) => inScope(p, x.meeting.room)) };
    },
  });

  r.get('/api/v1/meetings/:id/readiness', {
    config: { permission: 'readiness:read' },
    schema: { tags: ['readiness'], summary: 'One meeting\'s readiness record', params: z.object({ id: z.string().min(1).max(200) }), response: { 200: record, ...errors } },
    handler: async (req) => {
      const rec = ctx.engine.record(req.params.id);
      // Out of scope where the meeting was or is now: the same 404 as no record at all (issue 11).
      const now = ctx.schedule.get(req.params.id);
      if (!rec || !inScope(who(req), rec.meeting.room) || (now && !inScope(who(req), now.room))) throw notFound('readiness record of meeting', req.params.id);
      return rec;
    },
  });
}
