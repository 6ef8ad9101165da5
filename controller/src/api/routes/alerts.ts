import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { note, requireRoom, who } from '../guard.ts';
import { inScope } from '../roles.ts';
import { alertView, errorBody } from '../schemas.ts';
import { alertView as viewOf } from '../views.ts';

/**
 * Alerts: the active ones (raised once per room, check and meeting by the engine's
 * alert book, cleared when the check passes again), each with its acknowledgement.
 * Acknowledging records who and when (and a note); it does not clear the alert — only
 * the room being right again does. Alert ids contain "/": URL-encode them
 * (`3F-301%2Ftemperature_in_band%2Fm1`).
 */
export async function alertRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };

  r.get('/api/v1/alerts', {
    config: { permission: 'alerts:read' },
    schema: {
      tags: ['alerts'],
      summary: 'Active alerts, newest first, optionally of one room',
      querystring: z.strictObject({ room: z.string().min(1).max(100).optional() }),
      response: { 200: z.object({ alerts: z.array(alertView) }), ...errors },
    },
    handler: async (req) => {
      if (req.query.room !== undefined) requireRoom(ctx, req, req.query.room);
      const active = ctx.engine.activeAlerts();
      ctx.acks.prune(active);
      const mine = active.filter((a) => inScope(who(req), a.room) && (req.query.room === undefined || a.room === req.query.room));
      return { alerts: mine.sort((a, b) => b.ts - a.ts).map((a) => viewOf(ctx, a)) };
    },
  });

  r.post('/api/v1/alerts/:id/ack', {
    config: { permission: 'alerts:ack' },
    schema: {
      tags: ['alerts'],
      summary: 'Acknowledge an active alert (who and when are recorded)',
      params: z.object({ id: z.string().min(1).max(300) }),
      body: z.strictObject({ note: z.string().max(500).regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters').optional() }).optional(),
      response: { 200: alertView, ...errors },
    },
    handler: async (req) => {
      note(req, { target: req.params.id });
      const alert = ctx.engine.activeAlerts().find((a) => a.id === req.params.id);
      if (!alert || !inScope(who(req), alert.room)) throw notFound('active alert', req.params.id);
      note(req, { room: alert.room });
      const p = who(req);
      ctx.acks.acknowledge(alert, { by: p.tokenId, role: p.role, at: ctx.clock.now(), ...(req.body?.note ? { note: req.body.note } : {}) });
      return viewOf(ctx, alert);
    },
  });
}
