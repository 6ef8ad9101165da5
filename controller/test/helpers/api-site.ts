import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildOptions } from '../../src/api/app.ts';
import type { Role } from '../../src/api/roles.ts';
import { silentLogger } from '../../src/log.ts';
import { RoomctlService } from '../../src/service.ts';
import { siteFromYaml } from './site.ts';

/**
 * A real service for API tests: embedded broker on a free port, the MQTT adapter,
 * room state, schedule and engine on the system clock — with no devices answering,
 * so a scene's writes go out over MQTT and are reported unconfirmed after a short
 * read-back wait. The HTTP app is built on it with buildApp() and driven by inject().
 */
export const API_SITE_YAML = `
site: { id: apitest, name: API Test Building, timezone: Asia/Shanghai, language: en }
rooms:
  - id: A-101
    name: Room A
    capacity: 10
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: apitest/A-101/lights } }
      - { name: door, profile: door-mqtt, mqtt: { base: apitest/A-101/door } }
    scenes:
      meeting:
        label: { en: Meeting, zh-CN: 会议 }
        steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 } ]
      off: { steps: [ { set: lights.main.on, value: false } ] }
  - id: B-202
    name: Room B
    capacity: 6
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: apitest/B-202/lights } }
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true } ] }
`;

export interface ApiFixture {
  service: RoomctlService;
  app: FastifyInstance;
  dataDir: string;
  /** A fresh token of this role (panel/attendant scoped to A-101 unless rooms are given). */
  token(role: Role, rooms?: string[]): string;
  close(): Promise<void>;
}

export async function apiFixture(options: BuildOptions & { yaml?: string; verifyTimeoutMs?: number } = {}): Promise<ApiFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'roomctl-api-'));
  const site = siteFromYaml(options.yaml ?? API_SITE_YAML);
  const withBroker = { ...site, config: { ...site.config, mqtt: { ...site.config.mqtt, broker: { host: '127.0.0.1', port: 0 } } } };
  const service = new RoomctlService({ site: withBroker, logger: silentLogger, dataDir, api: { enabled: false }, engine: { verifyTimeoutMs: options.verifyTimeoutMs ?? 300, attempts: 1, backoffMs: 50 } });
  await service.start();
  const app = await buildApp(service, { logger: silentLogger, ...options });
  const token = (role: Role, rooms?: string[]) => {
    const scoped = rooms ?? (role === 'panel' || role === 'attendant' ? ['A-101'] : undefined);
    return app.roomctl.tokens.create({ role, rooms: scoped, label: `test ${role}` }).token;
  };
  return {
    service,
    app,
    dataDir,
    token,
    async close() {
      await app.close();
      await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
