import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { Site } from '../config/load.ts';
import type { BrokerUserConfig } from '../config/schema.ts';
import type { ResolvedDevice } from '../model/devices.ts';
import { topics } from '../model/topics.ts';

/**
 * Who may use the embedded broker and for what (issue 11). Every login is derived
 * from the config: a device (or a gateway fronting several) publishes only its own
 * state and availability topics and subscribes only to its own command topics; a
 * wall keypad publishes only its room's `scene/set`; an integration (Node-RED, Home
 * Assistant) reads roomctl's topics and asks for scenes; roomctl's own client may do
 * everything. Anonymous clients are refused unless the config says otherwise.
 */
export interface BrokerLogin {
  username: string;
  /** Plain secret (from the environment or generated for this run) … */
  password?: string;
  /** … or `scrypt$N$r$p$salt$hash`. */
  passwordHash?: string;
  /** Topics (exact) or filters this login may publish to. `all` = anything but `$SYS/`. */
  publish: string[] | 'all';
  /** Filters this login may subscribe to (a request must lie inside one of them). */
  subscribe: string[] | 'all';
}

export interface BrokerAuth {
  logins: BrokerLogin[];
  /** Lab only: clients without a username get in with roomctl's permissions. */
  allowAnonymous?: boolean;
}

export interface LoginContext {
  sitePrefix: string;
  /** Home Assistant discovery prefix, read by integrations. */
  discoveryPrefix: string;
  devices: readonly ResolvedDevice[];
}

/** The topics a device publishes (state, availability) and the ones it listens on (commands). */
export function deviceTopics(device: ResolvedDevice): { publish: string[]; subscribe: string[] } {
  const publish = new Set<string>();
  const subscribe = new Set<string>();
  for (const p of device.points) {
    if (p.mqtt?.stateTopic) publish.add(p.mqtt.stateTopic);
    if (p.mqtt?.commandTopic) subscribe.add(p.mqtt.commandTopic);
  }
  if (device.mqtt?.availability) publish.add(device.mqtt.availability.topic);
  return { publish: [...publish], subscribe: [...subscribe] };
}

/** A configured user → its login; `unknown` collects `room/device` references that name no MQTT device. */
export function loginFromConfig(user: BrokerUserConfig, ctx: LoginContext, unknown: string[] = []): BrokerLogin {
  const publish = new Set<string>(user.publish);
  const subscribe = new Set<string>(user.subscribe);
  for (const ref of user.devices) {
    const [room, name] = ref.split('/');
    const device = ctx.devices.find((d) => d.room === room && d.name === name && d.mqtt);
    if (!device) {
      unknown.push(ref);
      continue;
    }
    const t = deviceTopics(device);
    t.publish.forEach((x) => publish.add(x));
    t.subscribe.forEach((x) => subscribe.add(x));
  }
  for (const room of user.keypads) {
    publish.add(topics.roomSceneSet(ctx.sitePrefix, room));
    subscribe.add(topics.roomScene(ctx.sitePrefix, room));
  }
  if (user.integrations) {
    publish.add(topics.sceneSetFilter(ctx.sitePrefix));
    // Home Assistant's birth message asks for the discovery configs again.
    publish.add(`${ctx.discoveryPrefix}/status`);
    subscribe.add(`${ctx.sitePrefix}/#`);
    subscribe.add(`${ctx.discoveryPrefix}/#`);
  }
  return { username: user.username, password: user.password, passwordHash: user.password_hash, publish: [...publish], subscribe: [...subscribe] };
}

/** Per-run credentials for simulated devices (one login each), a keypad per room, an integration. */
export function generatedLogins(ctx: LoginContext, rooms: readonly string[]): { device: Map<string, BrokerLogin>; keypad: Map<string, BrokerLogin>; integrations: BrokerLogin } {
  const secret = () => randomBytes(18).toString('base64url');
  const device = new Map<string, BrokerLogin>();
  for (const d of ctx.devices) {
    if (!d.mqtt) continue;
    const t = deviceTopics(d);
    device.set(`${d.room}/${d.name}`, { username: `sim-${d.room}-${d.name}`, password: secret(), ...t });
  }
  const keypad = new Map<string, BrokerLogin>();
  for (const room of rooms) keypad.set(room, { username: `keypad-${room}`, password: secret(), publish: [topics.roomSceneSet(ctx.sitePrefix, room)], subscribe: [topics.roomScene(ctx.sitePrefix, room)] });
  const integrations: BrokerLogin = {
    username: 'integrations',
    password: secret(),
    publish: [topics.sceneSetFilter(ctx.sitePrefix), `${ctx.discoveryPrefix}/status`],
    subscribe: [`${ctx.sitePrefix}/#`, `${ctx.discoveryPrefix}/#`],
  };
  return { device, keypad, integrations };
}

/** A username and password for the embedded broker. */
export interface MqttCredentials {
  username: string;
  password: string;
}

/**
 * The embedded broker's logins made for this run (never written anywhere): roomctl's
 * own, one per MQTT device the config gives no credentials (what the simulated
 * building uses), a keypad per room and an integration (what tests and the demo's
 * peers use).
 */
export interface RunLogins {
  roomctl: MqttCredentials;
  integrations: MqttCredentials;
  device(room: string, device: string): MqttCredentials | undefined;
  keypad(room: string): MqttCredentials | undefined;
}

/**
 * Every login of the embedded broker for a site: roomctl's own (`own`, everything),
 * the configured users (mqtt.broker.users) and the per-run ones, which never shadow a
 * configured username; and the credentials the simulator and tests use for this run.
 */
export function embeddedBrokerLogins(site: Site, sitePrefix: string, own: MqttCredentials): { logins: BrokerLogin[]; run: RunLogins } {
  const users = site.config.mqtt.broker.users ?? [];
  const ctx: LoginContext = { sitePrefix, discoveryPrefix: site.config.home_assistant.discovery_prefix, devices: site.rooms.flatMap((r) => r.devices).filter((d) => d.mqtt) };
  const configured = users.map((u) => loginFromConfig(u, ctx));
  const generated = generatedLogins(ctx, site.rooms.map((r) => r.id));
  for (const key of users.flatMap((u) => u.devices)) generated.device.delete(key);
  const taken = new Set([own.username, ...configured.map((l) => l.username)]);
  const extra = [...generated.device.values(), ...generated.keypad.values(), generated.integrations].filter((l) => !taken.has(l.username));
  const creds = (l: BrokerLogin | undefined): MqttCredentials | undefined => (l && !taken.has(l.username) ? { username: l.username, password: l.password! } : undefined);
  const run: RunLogins = {
    roomctl: { ...own },
    integrations: creds(generated.integrations) ?? { username: '', password: '' },
    // A device with configured credentials (a plain password) uses them in the simulator too.
    device: (room, device) => {
      const user = users.find((u) => u.password && u.devices.includes(`${room}/${device}`));
      return user ? { username: user.username, password: user.password! } : creds(generated.device.get(`${room}/${device}`));
    },
    keypad: (room) => creds(generated.keypad.get(room)),
  };
  return { logins: [{ ...own, publish: 'all', subscribe: 'all' }, ...configured, ...extra], run };
}

export function generatedSecret(): string {
  return randomBytes(24).toString('base64url');
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };

/** `scrypt$N$r$p$salt$hash` (base64) of a password, for `password_hash` in the config. */
export async function hashBrokerPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, SCRYPT.keylen, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(login: BrokerLogin, given: Buffer | undefined): Promise<boolean> {
  if (!given) return false;
  if (login.password !== undefined) return safeEqual(given, Buffer.from(login.password, 'utf8'));
  if (!login.passwordHash) return false;
  const [, n, r, p, salt, hash] = login.passwordHash.split('$');
  const expected = Buffer.from(hash!, 'base64');
  const got = await scryptAsync(given, Buffer.from(salt!, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * Number(n) * Number(r) });
  return safeEqual(got, expected);
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function scryptAsync(password: string | Buffer, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem?: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** True if every topic `requested` can match is matched by `allowed` (both MQTT filters; a topic is a filter). */
export function filterCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  for (let i = 0; i < a.length; i++) {
    const al = a[i]!;
    if (al === '#') return !(i === 0 && requested.startsWith('$'));
    const rl = r[i];
    if (rl === undefined) return false;
    if (rl === '#') return false;
    if (al === '+') {
      if (i === 0 && rl.startsWith('$')) return false;
      continue;
    }
    if (al !== rl) return false;
  }
  return a.length === r.length;
}

export function mayPublish(login: BrokerLogin, topic: string): boolean {
  if (topic.startsWith('$')) return false;
  if (login.publish === 'all') return true;
  return login.publish.some((f) => filterCovers(f, topic));
}

export function maySubscribe(login: BrokerLogin, filter: string): boolean {
  if (login.subscribe === 'all') return true;
  return login.subscribe.some((f) => filterCovers(f, filter));
}
