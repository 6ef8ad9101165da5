import { join } from 'node:path';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import { jsonSchemaTransform, serializerCompiler } from 'fastify-type-provider-zod';
import { silentLogger, type Logger } from '../log.ts';
import { AlertAcks } from './alert-acks.ts';
import { AuditLog } from './audit.ts';
import { TokenStore } from './auth.ts';
import { DEFAULT_SCENE_LIMITS, type ApiContext, type ApiDeps, type SceneLimits } from './context.ts';
import { installErrorHandling, toErrorReply, validatorCompiler } from './errors.ts';
import { installGuard } from './guard.ts';
import { LiveHub } from './live.ts';
import { createMetrics } from './metrics.ts';
import { RecentEvents } from './recent-events.ts';
import { alertRoutes } from './routes/alerts.ts';
import { auditRoutes } from './routes/audit.ts';
import { checkRoutes } from './routes/checks.ts';
import { healthRoutes } from './routes/health.ts';
import { liveRoutes } from './routes/live.ts';
import { meetingRoutes } from './routes/meetings.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { readinessRoutes } from './routes/readiness.ts';
import { roomRoutes } from './routes/rooms.ts';
import { sceneRoutes } from './routes/scenes.ts';
import { siteRoutes } from './routes/site.ts';
import { tokenRoutes } from './routes/tokens.ts';

/**
 * The HTTP API (issue 6): fastify with the zod type provider, everything under
 * `/api/v1`, OpenAPI at `/docs` (Swagger UI served from the package: works offline),
 * `/metrics`, `/healthz`, the live WebSocket. buildApp() only builds: listening is
 * server.ts's job, and tests drive the app with inject().
 *
 * Stores kept in the service's data directory: tokens.json (hashed tokens),
 * audit.log (JSON lines, append-only), alert-acks.json.
 */
export interface BuildOptions {
  logger?: Logger;
  /** Default `<dataDir>/tokens.json`. */
  tokensFile?: string;
  /** Default `<dataDir>/audit.log`. */
  auditFile?: string;
  sceneLimits?: Partial<SceneLimits>;
  /** Keypad counts for /metrics (server.ts passes the keypad feature's). */
  keypad?: () => Record<string, number>;
  /** Registered after the API (the web pages: `/`, `/panel/:room`). They see `app.roomctl`. */
  plugins?: FastifyPluginAsync[];
  /** Serve HTTPS with this certificate and key (PEM), from `api.tls`. */
  https?: { cert: Buffer; key: Buffer };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The API's context: the service and the token, audit and ack stores. */
    roomctl: ApiContext;
    /** The live event hub (WebSocket fan-out). */
    roomctlLive: LiveHub;
  }
}

export async function buildApp(deps: ApiDeps, options: BuildOptions = {}): Promise<FastifyInstance> {
  const log = (options.logger ?? silentLogger).child({ part: 'api' });
  const ctx: ApiContext = {
    ...pick(deps),
    tokens: new TokenStore(options.tokensFile ?? join(deps.dataDir, 'tokens.json'), { logger: log }),
    audit: new AuditLog(options.auditFile ?? join(deps.dataDir, 'audit.log'), { logger: log }),
    acks: new AlertAcks(join(deps.dataDir, 'alert-acks.json'), log),
    recent: new RecentEvents(),
    log,
    sceneLimits: { ...DEFAULT_SCENE_LIMITS, ...options.sceneLimits },
    keypad: options.keypad,
  };
  ctx.acks.load();
  ctx.recent.start(ctx.bus, ctx.schedule, () => ctx.clock.now());
  const metrics = createMetrics(ctx);
  const hub = new LiveHub(ctx, metrics);
  hub.start();

  // No fastify request logging: URLs may carry a WebSocket token in the query string.
  // With `https` fastify serves TLS; its HTTPS server is typed apart, the app is the same.
  const app = Fastify({
    ...((options.https ? { https: options.https } : {}) as object),
    logger: false,
    bodyLimit: 64 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { maxParamLength: 300 },
    forceCloseConnections: true,
    // A URL the router cannot even decode (`/rooms/%zz`) gets the same JSON error as the rest.
    frameworkErrors: (err, req, reply) => {
      const { status, body } = toErrorReply(err, req);
      void (reply as unknown as FastifyReply).code(status).send(body);
    },
  });
  app.decorate('roomctl', ctx);
  app.decorate('roomctlLive', hub);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app, log);
  app.addHook('onClose', async () => {
    hub.stop();
    metrics.stop();
    ctx.recent.stop();
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'roomctl API', version: '1', description: 'Meeting-room readiness controller. Every /api/v1 route needs `Authorization: Bearer <token>` (roomctl token create). Errors are {error, message, path}. Live events: WebSocket `/api/v1/live?token=…` (frames: hello, snapshot, room, point, device, check, verdict, activity, alert, scene, meeting, mqtt).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', uiConfig: { validatorUrl: null } });
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(fastifyRateLimit, { global: false });
  installGuard(app, ctx);

  for (const routes of [siteRoutes, roomRoutes, meetingRoutes, sceneRoutes, checkRoutes, readinessRoutes, alertRoutes, auditRoutes, tokenRoutes, healthRoutes] as const) await app.register(async (scope) => routes(scope, ctx));
  await app.register(async (scope) => metricsRoutes(scope, metrics));
  await app.register(async (scope) => liveRoutes(scope, hub));
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  await app.ready();
  return app;
}

/** Only what the API reads of the service: never the whole object (it is not ours to hold). */
function pick(d: ApiDeps): ApiDeps {
  return { site: d.site, clock: d.clock, bus: d.bus, state: d.state, schedule: d.schedule, engine: d.engine, sitePrefix: d.sitePrefix, dataDir: d.dataDir, recorder: d.recorder, mqtt: d.mqtt, modbus: d.modbus };
}
