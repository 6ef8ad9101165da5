import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiContext } from '../context.ts';
import { healthOf, healthSchema } from '../health.ts';

/**
 * `GET /healthz`, public (a load balancer or systemd watchdog has no token):
 *   down      the MQTT broker is unreachable — no device can be commanded (503)
 *   degraded  something is wrong but the rooms are still served (200); `reasons` names
 *             each: a Modbus gateway disconnected, Modbus units missing their polls
 *             (listed in modbus.degraded), devices offline (devices.offline), InfluxDB away
 *             (the recorder spooling), InfluxDB refusing points or points being dropped
 *             in the last 10 minutes (influx.refusals, influx.dropped_by) — see ../health.ts
 *   ok        everything connected, nothing lost (200)
 * It names components and devices, never a room's state or a meeting.
 */
export async function healthRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get('/healthz', {
    schema: { tags: ['health'], summary: 'Broker, Modbus, devices, InfluxDB and the recorder: ok, degraded (with reasons) or down (503)', response: { 200: healthSchema, 503: healthSchema } },
    handler: async (_req, reply) => {
      const body = healthOf(ctx);
      return reply.code(body.status === 'down' ? 503 : 200).send(body);
    },
  });
}
