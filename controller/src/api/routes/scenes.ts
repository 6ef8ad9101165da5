import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { note, who } from '../guard.ts';
import { errorBody, roomParams, sceneResult, sceneView } from '../schemas.ts';
import { sceneViews } from '../views.ts';

/**
 * Scenes of a room (config `rooms[].scenes`): list them, and activate one. Activation
 * runs the engine's SceneRunner: the writes in order, each proven by read-back, the
 * result — every write confirmed, or which point failed and why — returned here (200,
 * `ok` says which) and published retained on `<prefix>/<site>/rooms/<room>/scene`.
 * With `?wait=false` the answer is 202 at once and the result arrives on the
 * WebSocket (`scene`) and MQTT: what a wall panel wants.
 *
 * Rate limit per token (real time): a panel at most a few scenes a minute.
 */
const params = roomParams.extend({ scene: z.string().min(1).max(100) });

export async function sceneRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 429: errorBody };
  const limitFor = (req: FastifyRequest) => {
    const role = req.principal?.role;
    return role === 'panel' ? ctx.sceneLimits.panel : role === 'attendant' ? ctx.sceneLimits.attendant : ctx.sceneLimits.other;
  };

  r.get('/api/v1/rooms/:room/scenes', {
    config: { permission: 'rooms:read', roomParam: 'room' },
    schema: { tags: ['scenes'], summary: 'The room\'s scenes (labels in en and zh-CN, the writes in order) and the last result', params: roomParams, response: { 200: z.object({ room: z.string(), scenes: z.array(sceneView), last: sceneResult.nullable() }), ...errors } },
    handler: async (req) => {
      const room = ctx.site.rooms.find((x) => x.id === req.params.room)!;
      return { room: room.id, scenes: sceneViews(room), last: ctx.engine.scenes.lastResult(room.id) ?? null };
    },
  });

  r.post('/api/v1/rooms/:room/scenes/:scene', {
    config: {
      permission: 'scenes:run',
      roomParam: 'room',
      rateLimit: {
        hook: 'preHandler',
        timeWindow: 60_000,
        max: async (req: FastifyRequest) => limitFor(req),
        keyGenerator: (req: FastifyRequest) => `scene:${req.principal?.tokenId ?? req.ip}`,
        errorResponseBuilder: (req: FastifyRequest, c: { max: number; after: string }) =>
          new ApiError(429, 'rate_limited', `too many scene requests: a ${req.principal?.role ?? 'caller'} token may fire ${c.max} a minute; retry in ${c.after}`),
      },
    },
    schema: {
      tags: ['scenes'],
      summary: 'Activate a scene: every write proven by read-back; the result says which point failed and why',
      params,
      querystring: z.strictObject({ wait: z.enum(['true', 'false']).default('true') }),
      response: { 200: sceneResult, 202: z.object({ accepted: z.literal(true), room: z.string(), scene: z.string() }), ...errors },
    },
    handler: async (req, reply) => {
      const { room: roomId, scene } = req.params;
      note(req, { target: scene });
      const room = ctx.site.rooms.find((x) => x.id === roomId)!;
      if (!room.scenes[scene]) {
        const known = Object.keys(room.scenes);
        throw new ApiError(404, 'not_found', `room ${roomId} has no scene "${scene}" (known: ${known.join(', ') || 'none'})`);
      }
      const source = who(req).role === 'panel' ? 'panel' : 'api';
      const run = ctx.engine.applyScene(roomId, scene, source);
      if (req.query.wait === 'false') {
        run.catch((err: unknown) => ctx.log.error({ err, room: roomId, scene }, 'API: a scene failed to run'));
        return reply.code(202).send({ accepted: true as const, room: roomId, scene });
      }
      const result = await run;
      if (!result.ok) note(req, { reason: result.failed?.point ? `${result.failed.point}: ${result.failed.reason}` : result.failed?.reason });
      return reply.code(200).send(result);
    },
  });
}
