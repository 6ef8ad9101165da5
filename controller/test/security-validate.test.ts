import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateCommand } from '../src/cli/validate.ts';
import { silentLogger } from '../src/log.ts';
import { RoomctlService } from '../src/service.ts';
import { siteFromYaml } from './helpers/site.ts';
import { freePort } from './helpers/wait.ts';

/**
 * Issue 11, item 3: `roomctl validate` refuses an embedded broker reachable from the
 * network without authentication, and warns for an API (or broker) beyond loopback
 * without TLS; `roomctl start` refuses the open broker too.
 */
const dir = mkdtempSync(join(tmpdir(), 'roomctl-security-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROOM = `
rooms:
  - id: R1
    name: Room 1
    capacity: 8
    devices:
      - { name: door, profile: door-mqtt, mqtt: { base: v/R1/door } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: v/R1/lights }, channels: { zone: [main] } }
`;
const SITE = 'site: { id: v, name: Validate, timezone: Asia/Shanghai }\n';

function validate(yaml: string): { code: number; out: string[]; err: string[] } {
  const file = join(dir, `c${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(file, SITE + yaml + ROOM);
  const out: string[] = [];
  const err: string[] = [];
  const code = validateCommand(file, (l) => out.push(l), (l) => err.push(l.replace(file, 'FILE')));
  return { code, out, err };
}

describe('roomctl validate: security', () => {
  it('refuses an embedded broker bound beyond loopback that lets anonymous clients in', () => {
    const r = validate('mqtt: { broker: { host: 0.0.0.0, allow_anonymous: true } }\n');
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      'mqtt.broker.allow_anonymous: the embedded broker listens on 0.0.0.0, beyond loopback, without authentication: anyone on the network could command the doors. Remove allow_anonymous and give each device a login in mqtt.broker.users',
      'FILE: 1 problem',
    ]);
  });

  it('accepts anonymous clients on loopback with a warning', () => {
    const r = validate('mqtt: { broker: { allow_anonymous: true } }\n');
    expect(r.code).toBe(0);
    expect(r.err).toEqual(['warning: mqtt.broker.allow_anonymous: clients without a username get in (loopback only; for a lab, not a building)']);
  });

  it('accepts a broker beyond loopback with a login per device, warning that it has no TLS and naming a device left without a login', () => {
    const r = validate('mqtt: { broker: { host: 0.0.0.0, users: [ { username: door, password: "${DOOR_PW:-x}", devices: [R1/door] } ] } }\n');
    expect(r.code).toBe(0);
    expect(r.err).toEqual([
      'warning: mqtt.broker.users: 1 MQTT device has no login and cannot connect: R1/lights',
      'warning: mqtt.broker: listening on 0.0.0.0 without TLS: device passwords and commands cross the network in clear (set mqtt.broker.tls with cert and key)',
    ]);
  });

  it('refuses a login for a device the site does not have, and a username given twice', () => {
    const r = validate('mqtt: { broker: { users: [ { username: a, password: p, devices: [R1/fan] }, { username: a, password: q, keypads: [R9] } ] } }\n');
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      'mqtt.broker.users[0].devices: "R1/fan" is not an MQTT device of this site (room/device)',
      'mqtt.broker.users[1].keypads: unknown room "R9"',
      'mqtt.broker.users: username "a" is given more than once',
      'FILE: 3 problems',
    ]);
  });

  it('warns for an API bound beyond loopback without TLS, and not with api.tls', () => {
    const plain = validate('api: { host: 0.0.0.0 }\n');
    expect(plain.code).toBe(0);
    expect(plain.err).toEqual(['warning: api.host: the API listens on 0.0.0.0, beyond loopback, without TLS: bearer tokens would cross the network in clear (set api.tls with cert and key)']);
    const tls = validate('api: { host: 0.0.0.0, tls: { cert: /etc/roomctl/api.crt, key: /etc/roomctl/api.key } }\n');
    expect(tls).toMatchObject({ code: 0, err: [] });
    expect(validate('')).toMatchObject({ code: 0, err: [] });
  });

  it('makes roomctl start refuse the open broker beyond loopback before listening', async () => {
    const site = siteFromYaml(SITE + `mqtt: { broker: { host: 0.0.0.0, port: ${await freePort()}, allow_anonymous: true } }\n` + ROOM);
    const service = new RoomctlService({ site, logger: silentLogger, dataDir: join(dir, 'data'), api: { enabled: false } });
    await expect(service.start()).rejects.toThrow(/^mqtt\.broker\.allow_anonymous: the embedded broker listens on 0\.0\.0\.0, beyond loopback, without authentication/);
    await service.stop();
  });
});
