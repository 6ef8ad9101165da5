import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../api/errors.ts';
import { errorBody, roomParams } from '../api/schemas.ts';

/**
 * The web pages (issue 6, items 4 and 5), registered on the API's app
 * (`buildApp(deps, { plugins: [webPages] })`):
 *
 *   GET /               engineer overview: every room as a tile
 *   GET /rooms/<room>   one room: points with quality, devices, alerts, recent events
 *   GET /panel/<room>   the wall panel of a room (a 1280×800 tablet), zh-CN and English
 *   GET /ui/<file>      their scripts and styles: plain ES modules and CSS from
 *                       panel/static/, no build step, nothing from the internet
 *
 * The pages themselves are public and hold no data: everything they show comes from
 * the API with the token the page keeps (see static/common.js: the token arrives once
 * in the address, `#token=…` or `?token=…`, is kept in localStorage and removed from
 * the address). So an unknown room, a wrong or revoked token are all answered by the
 * API, with its 401/403/404, and the page says which.
 *
 * One API route lives here because only the panel needs it:
 *   GET /api/v1/rooms/<room>/lead-times  the room policy's lead minutes, so the panel
 *                                        can count down to the readiness check (P4)
 */
const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * Only this origin, only these kinds of things: a page that would load a font or a
 * script from a CDN fails here first (and in the buildings, which are often offline).
 * `connect-src 'self'` covers the page's own WebSocket (ws:/wss: on the same host).
 */
const CSP = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "font-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Every file of the static folder, read once: the set of names is the whitelist (no path ever reaches the file system). */
export function loadAssets(dir = STATIC_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

const leadTimes = z.object({
  room: z.string(),
  policy: z.string(),
  /** Minutes before the start: AV on + mic test (P2), readiness check (P4), final sound check (P3), VIP3 set-up (P12). */
  leadMinutes: z.object({ av: z.number(), ready: z.number(), final_sound: z.number(), vip3: z.number() }),
});

export interface WebPagesOptions {
  /** Where the pages' files are; default panel/static beside this file. */
  dir?: string;
}

/**
 * The HTML pages carry the site's default language (`site.language`) in `<html lang>`:
 * a page that has no token yet cannot ask the API, and its sign-in card must already
 * speak the site's language. The language is no secret; nothing else of the site is.
 */
function withLanguage(assets: Map<string, Asset>, language: string): Map<string, Asset> {
  const out = new Map(assets);
  for (const [name, a] of assets) {
    if (!name.endsWith('.html')) continue;
    const body = Buffer.from(a.body.toString('utf8').replace(/<html lang="[^"]*">/, `<html lang="${language}">`));
    out.set(name, { ...a, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return out;
}

export function webPagesPlugin(options: WebPagesOptions = {}): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const assets = withLanguage(loadAssets(options.dir), app.roomctl.site.config.site.language);
    const send = (req: FastifyRequest, reply: FastifyReply, name: string) => {
      const a = assets.get(name);
      if (!a) throw notFound('file', name);
      // Revalidated on every load (cheap: 304), so a tablet never runs yesterday's script after an upgrade.
      void reply.header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('cache-control', 'no-cache').header('etag', a.etag);
      if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
      return reply.type(a.type).send(a.body);
    };
    const page = (file: string) => ({ schema: { hide: true }, handler: async (req: FastifyRequest, reply: FastifyReply) => send(req, reply, file) });

    app.get('/', page('overview.html'));
    app.get('/rooms/:room', page('room.html'));
    app.get('/panel/:room', page('panel.html'));
    app.get<{ Params: { file: string } }>('/ui/:file', { schema: { hide: true } }, async (req, reply) => send(req, reply, req.params.file));

    const ctx = app.roomctl;
    app.withTypeProvider<ZodTypeProvider>().get('/api/v1/rooms/:room/lead-times', {
      config: { permission: 'rooms:read', roomParam: 'room' },
      schema: { tags: ['rooms'], summary: 'The lead minutes of the room\'s policy (the wall panel counts down to the readiness check with them)', params: roomParams, response: { 200: leadTimes, 401: errorBody, 403: errorBody, 404: errorBody } },
      handler: async (req) => {
        const room = ctx.site.rooms.find((r) => r.id === req.params.room)!;
        const lead = room.policy.lead_minutes;
        return { room: room.id, policy: room.policy.name, leadMinutes: { av: lead.av, ready: lead.ready, final_sound: lead.final_sound, vip3: lead.vip3 } };
      },
    });
  };
}

/** The pages with their files from the package: what `roomctl start` serves. */
export const webPages: FastifyPluginAsync = webPagesPlugin();
