import type { FastifyInstance } from 'fastify';
import type { ApiMetrics } from '../metrics.ts';

/** `GET /metrics` in the Prometheus text format; needs a token (admin, engineer or viewer). */
export async function metricsRoutes(app: FastifyInstance, metrics: ApiMetrics): Promise<void> {
  app.get('/metrics', { config: { permission: 'metrics:read' }, schema: { tags: ['health'], summary: 'Prometheus metrics (text format)' } }, async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
