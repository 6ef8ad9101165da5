import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from './context.ts';
import { bearer } from './auth.ts';
import type { AuditEntry } from './audit.ts';
import { ApiError, forbidden, notFound, unauthorized } from './errors.ts';
import { allows, inScope, type Permission, type Principal } from './roles.ts';

/**
 * Authentication, authorization and the audit trail, as fastify hooks:
 *
 *   onRequest   a route that names a `permission` (route config) needs a valid token
 *               (401 otherwise), a role granted that permission (403), and — when the
 *               route has a room parameter — the room in the token's scope (403) and
 *               in the site (404 naming it). All of it before the body is even read.
 *   onResponse  every state-changing request (anything but GET/HEAD/OPTIONS) and every
 *               denial (401, 403, 429) is appended to the audit log.
 *
 * The token comes in `Authorization: Bearer …`; on the WebSocket route (`queryToken`)
 * also as `?token=…`, because a browser cannot set headers on a WebSocket. The query
 * string is never logged or audited.
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route needs; absent = a public route (health, docs, pages). */
    permission?: Permission;
    /** The route parameter holding a room id: checked against scope and site. */
    roomParam?: string;
    /** Accept the token as `?token=` (WebSocket only). */
    queryToken?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
    /** What the audit entry of this request says besides method and path. */
    auditNote?: { room?: string; target?: string; reason?: string };
  }
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const DENIALS = new Set([401, 403, 429]);

const REASONS = {
  missing: 'no API token: send "Authorization: Bearer <token>"',
  malformed: 'the API token is malformed',
  unknown: 'the API token is not known',
  revoked: 'the API token has been revoked',
  expired: 'the API token has expired',
} as const;

/** The principal of a guarded route's request (the guard has run). */
export function who(req: FastifyRequest): Principal {
  if (!req.principal) throw new ApiError(401, 'unauthorized', REASONS.missing);
  return req.principal;
}

export function note(req: FastifyRequest, n: { room?: string; target?: string; reason?: string }): void {
  req.auditNote = { ...req.auditNote, ...n };
}

/** 403 unless the room is in the principal's scope (for rooms named in a body or a query). */
export function requireRoom(ctx: ApiContext, req: FastifyRequest, room: string): void {
  const p = who(req);
  note(req, { room });
  if (!inScope(p, room)) throw forbidden(`this token may only act on room${p.rooms!.length === 1 ? '' : 's'} ${p.rooms!.join(', ')}`);
  if (!ctx.site.rooms.some((r) => r.id === room)) throw notFound('room', room);
}

function queryToken(req: FastifyRequest): string | undefined {
  const q = req.query as Record<string, unknown> | undefined;
  return typeof q?.token === 'string' ? q.token : undefined;
}

export function installGuard(app: FastifyInstance, ctx: ApiContext): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const cfg = req.routeOptions.config;
    if (!cfg?.permission) return;
    const token = bearer(req.headers.authorization) ?? (cfg.queryToken ? queryToken(req) : undefined);
    const v = ctx.tokens.verify(token);
    if (!v.ok) {
      note(req, { reason: v.reason });
      reply.header('www-authenticate', 'Bearer realm="roomctl"');
      throw unauthorized(REASONS[v.reason]);
    }
    const p = v.principal;
    req.principal = p;
    if (!allows(p.role, cfg.permission)) {
      note(req, { reason: `role ${p.role} lacks ${cfg.permission}` });
      throw forbidden(`a ${p.role} token may not do this (needs ${cfg.permission})`);
    }
    if (cfg.roomParam) {
      const room = (req.params as Record<string, string | undefined>)[cfg.roomParam];
      if (room !== undefined) requireRoom(ctx, req, room);
    }
  });

  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    const status = reply.statusCode;
    const denied = DENIALS.has(status);
    if (READS.has(req.method) && !denied) return;
    const p = req.principal;
    const n = req.auditNote ?? {};
    const entry: AuditEntry = {
      ts: new Date().toISOString(),
      tokenId: p?.tokenId ?? null,
      role: p?.role ?? null,
      method: req.method,
      route: req.routeOptions.url ?? null,
      path: clip(req.url.split('?')[0] ?? '/'),
      status,
      result: denied ? 'denied' : status >= 500 ? 'failed' : status >= 400 ? 'invalid' : 'ok',
      ip: req.ip,
    };
    if (n.room !== undefined) entry.room = clip(n.room);
    if (n.target !== undefined) entry.target = clip(n.target);
    if (n.reason !== undefined) entry.reason = n.reason;
    ctx.audit.append(entry);
  });
}

const clip = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…` : s);
