import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { allPass, notPassing } from '../../engine/readiness/readiness-book.ts';
import type { ApiContext } from '../context.ts';
import { who } from '../guard.ts';
import { checkOutcome, errorBody, meetingView, roomParams } from '../schemas.ts';
import { meetingView as viewOf } from '../views.ts';

/**
 * Run a room's readiness checks now (what `roomctl check ROOM` calls): every check of
 * the room against its current or next meeting, on the live room state. The outcomes
 * go on the bus (and so to InfluxDB) like any check; no alert is raised by it.
 */
export async function checkRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post('/api/v1/rooms/:room/check', {
    config: { permission: 'checks:run', roomParam: 'room' },
    schema: {
      tags: ['checks'],
      summary: 'Run every readiness check of the room now and return the outcomes',
      params: roomParams,
      response: {
        200: z.object({ room: z.string(), ts: z.number(), meeting: meetingView.nullable(), ready: z.boolean(), failing: z.array(z.string()), outcomes: z.array(checkOutcome) }),
        401: errorBody,
        403: errorBody,
        404: errorBody,
      },
    },
    handler: async (req) => {
      const room = req.params.room;
      const focus = ctx.engine.focusMeeting(room);
      const meeting = focus ? ctx.schedule.get(focus.id) : undefined;
      const outcomes = ctx.engine.checkRoom(room);
      return { room, ts: ctx.clock.now(), meeting: meeting ? viewOf(meeting, who(req)) : null, ready: allPass(outcomes), failing: notPassing(outcomes), outcomes };
    },
  });
}
