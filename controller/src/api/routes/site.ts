import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { who } from '../guard.ts';
import { ROLES, scopedRooms, seesConfidential } from '../roles.ts';
import { errorBody } from '../schemas.ts';

/**
 * The site and the caller: what every page needs first — the site's name, time zone
 * and default panel language, the service clock (`now` and `speed`: the demo runs on
 * virtual time, so a countdown must use these rather than the tablet's clock), and
 * what this token may see. And, for admins, the configuration with secrets masked.
 */
const site = z.object({
  id: z.string(),
  name: z.string(),
  timezone: z.string(),
  language: z.enum(['zh-CN', 'en']),
  now: z.number(),
  /** Clock ms per real ms: 1 on real time, N in the demo, 0 while a test steps it. */
  speed: z.number(),
  rooms: z.array(z.object({ id: z.string(), name: z.string(), floor: z.union([z.string(), z.number()]).nullable() })),
  token: z.object({ id: z.string(), role: z.enum(ROLES), rooms: z.array(z.string()).nullable(), confidential: z.boolean() }),
});

export function clockSpeed(clock: unknown): number {
  const s = (clock as { speed?: unknown; mode?: unknown }).speed;
  return typeof s === 'number' ? s : 1;
}

const SECRET_KEY = /pass(word)?|secret|token|key$/i;

function masked(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(masked);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && typeof v === 'string' ? '***' : masked(v)]));
  return value;
}

export async function siteRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/site', {
    config: { permission: 'site:read' },
    schema: { tags: ['site'], summary: 'The site, the service clock and what this token may see', response: { 200: site, 401: errorBody } },
    handler: async (req) => {
      const p = who(req);
      const s = ctx.site.config.site;
      return {
        id: s.id,
        name: s.name,
        timezone: s.timezone,
        language: s.language,
        now: ctx.clock.now(),
        speed: clockSpeed(ctx.clock),
        rooms: scopedRooms(p, ctx.site.rooms).map((x) => ({ id: x.id, name: x.name, floor: x.floor ?? null })),
        token: { id: p.tokenId, role: p.role, rooms: p.rooms ? [...p.rooms] : null, confidential: seesConfidential(p) },
      };
    },
  });

  r.get('/api/v1/config', {
    config: { permission: 'config:read' },
    schema: { tags: ['site'], summary: 'The loaded configuration (secrets masked); admin only', response: { 200: z.looseObject({}), 401: errorBody, 403: errorBody } },
    handler: async () => masked(ctx.site.config) as Record<string, unknown>,
  });
}
