import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { ApiConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { buildApp } from './app.ts';
import type { ApiDeps } from './context.ts';
import { KeypadScenes } from './keypad.ts';

/**
 * The API as a service feature: `roomctl start` (and the demo) serve it after the
 * engine has started, and stop it first. Keypads over MQTT are served here too, and
 * keep working with `api.enabled: false`: they do not need HTTP.
 *
 * A port already in use does not stop the controller — the building keeps being run
 * over MQTT and Modbus — but it is logged as an error and `url` stays undefined.
 */
export interface ApiServerOptions {
  deps: ApiDeps & { mqtt: NonNullable<ApiDeps['mqtt']> & { subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): () => void } };
  config: ApiConfig;
  logger: Logger;
  /** The web pages (issue 6 items 4, 5), registered on the same app. */
  plugins?: FastifyPluginAsync[];
}

export class ApiServer {
  readonly name = 'http api';
  app?: FastifyInstance;
  /** `http://host:port` (`https://` with api.tls) once listening. */
  url?: string;
  readonly keypad: KeypadScenes;

  constructor(private options: ApiServerOptions) {
    const { deps, logger } = options;
    this.keypad = new KeypadScenes({
      rooms: deps.site.rooms,
      sitePrefix: deps.sitePrefix,
      subscribe: (filter, handler) => deps.mqtt.subscribe(filter, handler),
      applyScene: (room, scene, source) => deps.engine.applyScene(room, scene, source),
      logger: logger.child({ part: 'keypad' }),
    });
  }

  async start(): Promise<void> {
    const { config, logger, deps } = this.options;
    this.keypad.start();
    if (!config.enabled) {
      logger.info('api.enabled is false: no HTTP API (keypads still work)');
      return;
    }
    let https: { cert: Buffer; key: Buffer } | undefined;
    if (config.tls) {
      try {
        https = { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) };
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'api.tls: cannot read the certificate or key; the HTTP API is not served (it will not fall back to clear text)');
        return;
      }
    }
    this.app = await buildApp(deps, { logger, keypad: () => ({ ...this.keypad.counts }), plugins: this.options.plugins, https });
    try {
      await this.app.listen({ host: config.host, port: config.port });
    } catch (err) {
      logger.error({ err: (err as Error).message, host: config.host, port: config.port }, 'the HTTP API could not listen; the controller runs on without it');
      await this.app.close();
      this.app = undefined;
      return;
    }
    const address = this.app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    this.url = `${https ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    const tokens = this.app.roomctl.tokens.activeCount();
    logger.info({ url: this.url, tokens }, `HTTP API on ${this.url} (docs at ${this.url}/docs)`);
    if (tokens === 0) logger.warn(`no API tokens yet in ${this.app.roomctl.tokens.file}: create one with \`roomctl token create --role admin --config <the site's file>\` (the demo: --demo)`);
  }

  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
    await this.keypad.stop();
  }
}
