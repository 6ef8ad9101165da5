import { describe, expect, it } from 'vitest';
import { filterCovers, hashBrokerPassword, loginFromConfig, mayPublish, maySubscribe, verifyPassword } from '../src/adapters/broker-auth.ts';
import { brokerUserSchema } from '../src/config/schema.ts';
import { siteFromYaml } from './helpers/site.ts';

/**
 * Issue 11, item 1: the permissions a login gets from the config, as the embedded
 * broker applies them (security-broker.test.ts proves them over sockets).
 */
const site = siteFromYaml(`
site: { id: acl, name: ACL, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Room 1
    capacity: 8
    devices:
      - { name: door, profile: door-mqtt, mqtt: { base: acl/R1/door } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: acl/R1/lights }, channels: { zone: [main] } }
`);
const ctx = { sitePrefix: 'roomctl/acl', discoveryPrefix: 'homeassistant', devices: site.rooms.flatMap((r) => r.devices) };
const login = (user: object) => loginFromConfig(brokerUserSchema.parse(user), ctx);

describe('topic filters and what a login may do', () => {
  it('says whether one filter lies inside another, as MQTT matching does', () => {
    expect(filterCovers('roomctl/acl/#', 'roomctl/acl/rooms/+/state')).toBe(true);
    expect(filterCovers('roomctl/acl/#', 'roomctl/acl')).toBe(true);
    expect(filterCovers('roomctl/acl/#', '#')).toBe(false);
    expect(filterCovers('roomctl/+/rooms/+/scene/set', 'roomctl/acl/rooms/R1/scene/set')).toBe(true);
    expect(filterCovers('a/+/c', 'a/#')).toBe(false);
    expect(filterCovers('a/b', 'a/b/c')).toBe(false);
    expect(filterCovers('#', '$SYS/broker/clients')).toBe(false);
    expect(filterCovers('+/broker', '$SYS/broker')).toBe(false);
  });

  it('gives a device its state and availability topics to publish and its command topics to subscribe, nothing else', () => {
    const door = login({ username: 'door', password: 'p', devices: ['R1/door'] });
    expect(door.publish).toEqual(['acl/R1/door/state', 'acl/R1/door/availability']);
    expect(door.subscribe).toEqual(['acl/R1/door/set']);
    expect(mayPublish(door, 'acl/R1/door/set')).toBe(false);
    expect(mayPublish(door, 'acl/R1/lights/main/state')).toBe(false);
    expect(maySubscribe(door, 'acl/R1/#')).toBe(false);
    expect(maySubscribe(door, 'roomctl/acl/#')).toBe(false);
  });

  it("gives a keypad its rooms' scene/set and scene, an integration roomctl's topics and scene requests, and never $SYS", () => {
    const keypad = login({ username: 'kp', password: 'p', keypads: ['R1'] });
    expect(keypad).toMatchObject({ publish: ['roomctl/acl/rooms/R1/scene/set'], subscribe: ['roomctl/acl/rooms/R1/scene'] });
    const nodeRed = login({ username: 'nr', password: 'p', integrations: true });
    expect(mayPublish(nodeRed, 'roomctl/acl/rooms/R9/scene/set')).toBe(true);
    expect(mayPublish(nodeRed, 'roomctl/acl/rooms/R1/state')).toBe(false);
    expect(mayPublish(nodeRed, 'acl/R1/door/set')).toBe(false);
    expect(maySubscribe(nodeRed, 'roomctl/acl/#')).toBe(true);
    expect(maySubscribe(nodeRed, 'homeassistant/#')).toBe(true);
    expect(maySubscribe(nodeRed, '#')).toBe(false);
    expect(mayPublish({ username: 'roomctl', publish: 'all', subscribe: 'all' }, '$SYS/x')).toBe(false);
  });

  it('checks a password against its scrypt hash, and refuses a wrong or missing one', async () => {
    const hash = await hashBrokerPassword('correct horse');
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    const l = login({ username: 'h', password_hash: hash });
    expect(await verifyPassword(l, Buffer.from('correct horse'))).toBe(true);
    expect(await verifyPassword(l, Buffer.from('correct horsE'))).toBe(false);
    expect(await verifyPassword(l, undefined)).toBe(false);
    expect(brokerUserSchema.safeParse({ username: 'x', password: 'a', password_hash: hash }).success).toBe(false);
    expect(brokerUserSchema.safeParse({ username: 'x' }).success).toBe(false);
  });
});
