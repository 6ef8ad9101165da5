import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bearer } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { who } from '../guard.ts';
import { LIVE_TYPES, type LiveHub } from '../live.ts';
import { errorBody } from '../schemas.ts';

/**
 * `GET /api/v1/live` — the WebSocket of live events (frames described in live.ts).
 * The token goes in `Authorization: Bearer …` or, from a browser, `?token=…`; the
 * guard answers 401/403 over plain HTTP before any upgrade. `?rooms=A,B&types=room,alert`
 * narrows the stream from the start (also possible later with a subscribe frame).
 */
const list = z.string().max(2000).transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

export async function liveRoutes(app: FastifyInstance, hub: LiveHub): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().route({
    method: 'GET',
    url: '/api/v1/live',
    // A plain GET (no Upgrade header) is told what this is, in the usual error shape.
    handler: async () => {
      throw new ApiError(426, 'upgrade_required', 'this is a WebSocket endpoint: connect with "Upgrade: websocket"');
    },
    config: { permission: 'live:read', queryToken: true },
    schema: {
      tags: ['live'],
      summary: 'WebSocket of live events: hello, snapshot, then room, point, device, check, verdict, activity, alert, scene, meeting, mqtt frames',
      querystring: z.strictObject({ token: z.string().max(200).optional(), rooms: list.optional(), types: list.pipe(z.array(z.enum(LIVE_TYPES))).optional() }),
      response: { 400: errorBody, 401: errorBody, 403: errorBody, 426: errorBody },
    },
    wsHandler: (socket, req) => {
      const q = req.query;
      const token = bearer(req.headers.authorization) ?? q.token ?? '';
      hub.add(socket, who(req), token, { rooms: q.rooms, types: q.types });
    },
  });
}
