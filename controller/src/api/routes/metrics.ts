import type { FastifyInstance } from 'fastify';
import { forbidden } from '../errors.ts';
import { who } from '../guard.ts';
import type { ApiMetrics } from '../metrics.ts';

/**
 * `GET /metrics` in the Prometheus text format; needs a token (admin, engineer or
 * viewer) that sees every room: the counters are per room, and a token scoped to some
 * rooms must not read the others' (issue 11).
 */
export async function metricsRoutes(app: FastifyInstance, metrics: ApiMetrics): Promise<void> {
  app.get('/metrics', { config: { permission: 'metrics:read' }, schema: { tags: ['health'], summary: 'Prometheus metrics (text format); tokens that see every room only' } }, async (req, reply) => {
    if (who(req).rooms !== null) throw forbidden('the metrics cover every room: a token scoped to rooms may not read them');
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
