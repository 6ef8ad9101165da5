import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { gatewayNames } from '../metrics.ts';

/**
 * `GET /healthz`, public (a load balancer or systemd watchdog has no token):
 *   down      the MQTT broker is unreachable — no device can be commanded (503)
 *   degraded  a Modbus gateway is disconnected, a Modbus unit missed its last poll(s)
 *             (listed in modbus.degraded: in backoff, offline from offline_after misses),
 *             or InfluxDB is away and the recorder is spooling (200: the rooms are still served)
 *   ok        everything connected (200)
 * It names components, never a room's state or a meeting.
 */
const health = z.object({
  status: z.enum(['ok', 'degraded', 'down']),
  broker: z.object({ connected: z.boolean() }),
  modbus: z.object({
    gateways: z.array(z.object({ id: z.string(), connected: z.boolean(), timeouts: z.number() })),
    degraded: z.array(z.object({ device: z.string(), misses: z.number(), timeouts: z.number(), error: z.string().optional() })),
  }),
  influx: z.object({ configured: z.boolean(), mode: z.string(), spooled: z.number(), dropped: z.number() }),
  devices: z.object({ online: z.number(), total: z.number() }),
});

export async function healthRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const names = gatewayNames(ctx);
  app.withTypeProvider<ZodTypeProvider>().get('/healthz', {
    schema: { tags: ['health'], summary: 'Broker, Modbus gateways, InfluxDB: ok, degraded or down (503)', response: { 200: health, 503: health } },
    handler: async (_req, reply) => {
      const gateways = Object.entries(ctx.modbus?.stats().links ?? {}).map(([key, s]) => ({ id: names.get(key) ?? key, connected: s.connected, timeouts: s.timeouts }));
      const degraded = Object.entries(ctx.modbus?.stats().devices ?? {})
        .filter(([, d]) => d.misses > 0)
        .map(([device, d]) => ({ device, misses: d.misses, timeouts: d.timeouts, error: d.lastError }));
      const rec = ctx.recorder?.stats();
      const influx = { configured: !!ctx.site.config.influx?.url, mode: rec?.mode ?? 'spool-only', spooled: rec?.spooled ?? 0, dropped: rec?.dropped ?? 0 };
      const all = ctx.state.allDeviceHealth();
      const broker = { connected: !!ctx.mqtt?.connected };
      const status = !broker.connected ? 'down' : gateways.some((g) => !g.connected) || degraded.length > 0 || influx.mode === 'spooling' ? 'degraded' : 'ok';
      const body = { status, broker, modbus: { gateways, degraded }, influx, devices: { online: all.filter((h) => h.online).length, total: all.length } } as const;
      return reply.code(status === 'down' ? 503 : 200).send(body);
    },
  });
}
