import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { ROLES } from '../roles.ts';
import { errorBody, instantQuery } from '../schemas.ts';

/** The audit log, newest first, for admins: filter by time, token id, result and room. */
const entry = z.object({
  ts: z.string(),
  tokenId: z.string().nullable(),
  role: z.enum(ROLES).nullable(),
  method: z.string(),
  route: z.string().nullable(),
  path: z.string(),
  room: z.string().optional(),
  target: z.string().optional(),
  status: z.number(),
  result: z.enum(['ok', 'denied', 'invalid', 'failed']),
  reason: z.string().optional(),
  ip: z.string().optional(),
});

export async function auditRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get('/api/v1/audit', {
    config: { permission: 'audit:read' },
    schema: {
      tags: ['audit'],
      summary: 'Audit entries (state-changing requests and denials), newest first',
      querystring: z.strictObject({
        since: instantQuery.optional(),
        until: instantQuery.optional(),
        token: z.string().max(100).optional(),
        result: z.enum(['ok', 'denied', 'invalid', 'failed']).optional(),
        room: z.string().max(100).optional(),
        limit: z.coerce.number().int().min(1).max(5000).default(200),
      }),
      response: { 200: z.object({ entries: z.array(entry) }), 400: errorBody, 401: errorBody, 403: errorBody },
    },
    handler: async (req) => {
      const q = req.query;
      return { entries: ctx.audit.query({ since: q.since, until: q.until, tokenId: q.token, result: q.result, room: q.room, limit: q.limit }) };
    },
  });
}
