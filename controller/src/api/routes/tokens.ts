import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseTtl } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { note } from '../guard.ts';
import { ROLES, scopeProblem } from '../roles.ts';
import { errorBody, tokenInfo } from '../schemas.ts';

/**
 * API tokens, for admins (the same store `roomctl token` edits offline). A new token's
 * secret is in the creation answer and nowhere else, ever.
 */
export async function tokenRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };

  r.get('/api/v1/tokens', {
    config: { permission: 'tokens:manage' },
    schema: { tags: ['tokens'], summary: 'Every token (never its secret or hash)', response: { 200: z.object({ tokens: z.array(tokenInfo) }), ...errors } },
    handler: async () => ({ tokens: ctx.tokens.list() }),
  });

  r.post('/api/v1/tokens', {
    config: { permission: 'tokens:manage' },
    schema: {
      tags: ['tokens'],
      summary: 'Create a token; the answer holds its secret, shown this once',
      body: z.strictObject({
        role: z.enum(ROLES),
        rooms: z.array(z.string().min(1).max(100)).max(1000).optional(),
        ttl: z.string().max(20).optional().describe('e.g. 30m, 24h, 7d; absent = no expiry'),
        label: z.string().max(100).regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters').optional(),
      }),
      response: { 201: z.object({ token: z.string(), info: tokenInfo }), ...errors },
    },
    handler: async (req, reply) => {
      const { role, rooms, ttl, label } = req.body;
      const problem = scopeProblem(role, rooms);
      if (problem) throw new ApiError(400, 'validation', problem, 'body.rooms');
      const unknown = (rooms ?? []).filter((id) => !ctx.site.rooms.some((x) => x.id === id));
      if (unknown.length) throw new ApiError(404, 'not_found', `unknown room${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}`, 'body.rooms');
      let ttlMs: number | undefined;
      try {
        ttlMs = ttl === undefined ? undefined : parseTtl(ttl);
      } catch (err) {
        throw new ApiError(400, 'validation', `body.ttl: ${(err as Error).message}`, 'body.ttl');
      }
      const created = ctx.tokens.create({ role, rooms, ttlMs, label });
      note(req, { target: created.info.id });
      return reply.code(201).send(created);
    },
  });

  r.delete('/api/v1/tokens/:id', {
    config: { permission: 'tokens:manage' },
    schema: { tags: ['tokens'], summary: 'Revoke a token (takes effect on its next request)', params: z.object({ id: z.string().min(1).max(100) }), response: { 200: z.object({ token: tokenInfo }), ...errors } },
    handler: async (req) => {
      note(req, { target: req.params.id });
      const info = ctx.tokens.revoke(req.params.id);
      if (!info) throw notFound('token', req.params.id);
      return { token: info };
    },
  });
}
