#!/usr/bin/env node
/**
 * `npm run flows`: Node-RED 4 with the roomctl integration flows, next to a running
 * roomctl (flows/README.md). Before Node-RED starts it
 *   1. checks the environment the flows need (ROOMCTL_SITE, ROOMCTL_URL, ROOMCTL_TOKEN)
 *      and names what is missing;
 *   2. installs the flows' own modules (flows/package.json: modbus-serial for the Modbus
 *      keypads, node-red-node-email) when they are missing or older than the lock file;
 *   3. writes usernames/passwords given in the environment (MQTT_USERNAME/MQTT_PASSWORD,
 *      SMTP_USER/SMTP_PASSWORD) into the credentials file, encrypted with
 *      NODE_RED_CREDENTIAL_SECRET the way Node-RED encrypts it — so they are never in
 *      flows.json, and never in a file in clear.
 * Then it runs Node-RED in this process with flows/ as its user directory (or
 * NODE_RED_USER_DIR, which then keeps the runtime's state while the flows stay here).
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FLOWS_DIR = dirname(fileURLToPath(import.meta.url));
/** Config nodes of flows.json that hold credentials, and which variables fill them. */
const CREDENTIALS = [
  { node: 'roomctl-mqtt-broker', fields: { user: 'MQTT_USERNAME', password: 'MQTT_PASSWORD' } },
  { node: 'roomctl-alert-email', fields: { userid: 'SMTP_USER', password: 'SMTP_PASSWORD' } },
];
const REQUIRED = {
  ROOMCTL_SITE: 'the site id of roomctl’s config (site.id), as in its topics roomctl/<site>/…',
  ROOMCTL_URL: 'roomctl’s HTTP API, e.g. http://127.0.0.1:8080',
  ROOMCTL_TOKEN: 'an API token with the scheduler role: roomctl token create --role scheduler --label node-red',
};

const say = (line) => console.log(`[roomctl flows] ${line}`);
const fail = (line) => {
  console.error(`[roomctl flows] ${line}`);
  process.exit(2);
};

const env = process.env;
const missing = Object.entries(REQUIRED).filter(([name]) => !env[name]);
if (missing.length) fail(`missing environment variables:\n${missing.map(([name, why]) => `  ${name}: ${why}`).join('\n')}\n(flows/README.md lists every variable)`);
env.MQTT_URL ||= 'mqtt://127.0.0.1:1883';
env.ROOMCTL_TOPIC_PREFIX ||= 'roomctl';
if (/^[a-z]+:\/\/[^/]*@/i.test(env.MQTT_URL)) fail('MQTT_URL must not carry a username or password (Node-RED logs the URL): use MQTT_USERNAME and MQTT_PASSWORD');

ensureModules();
const userDir = resolve(env.NODE_RED_USER_DIR || FLOWS_DIR);
prepareUserDir(userDir);
writeCredentials(userDir);

let redJs;
try {
  redJs = createRequire(import.meta.url).resolve('node-red/red.js');
} catch {
  fail('Node-RED 4 is not installed: run `npm install` in the roomctl repository (node-red is a devDependency)');
}
const port = env.NODE_RED_PORT || '1880';
const host = env.NODE_RED_HOST || '127.0.0.1';
const yes = (name) => (env[name] ? 'yes' : 'no');
say(`site ${env.ROOMCTL_SITE}, roomctl ${env.ROOMCTL_URL}, broker ${env.MQTT_URL}`);
say(`keypads: MQTT buttons ${yes('MQTT_BUTTONS')}, Modbus ${yes('MODBUS_KEYPADS')} · alerts: webhook ${yes('ALERT_WEBHOOK_URL')}, email ${env.SMTP_HOST && env.ALERT_EMAIL_TO ? 'yes' : 'no'}`);
say(`booking webhook: POST http://${host}:${port}/roomctl/bookings${env.BOOKING_WEBHOOK_TOKEN ? '' : ' (no BOOKING_WEBHOOK_TOKEN: anyone who reaches it can book)'} · status: GET /roomctl/status`);
process.argv = [process.execPath, redJs, '--userDir', userDir, '--settings', join(FLOWS_DIR, 'settings.js'), '--port', port];
await import(pathToFileURL(redJs).href);

/** flows/node_modules as flows/package-lock.json says, installed with `npm ci` when missing or stale. */
function ensureModules() {
  const pkg = JSON.parse(readFileSync(join(FLOWS_DIR, 'package.json'), 'utf8'));
  const names = Object.keys(pkg.dependencies ?? {});
  const absent = names.filter((n) => !existsSync(join(FLOWS_DIR, 'node_modules', n, 'package.json')));
  const marker = join(FLOWS_DIR, 'node_modules', '.package-lock.json');
  const lock = join(FLOWS_DIR, 'package-lock.json');
  const stale = existsSync(marker) && existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs;
  if (absent.length === 0 && !stale) return;
  say(`installing the flows' modules (${absent.length ? `missing: ${absent.join(', ')}` : 'lock file changed'}) into flows/node_modules`);
  // Under `npm run`, npm_execpath is the npm that runs us; otherwise the one on PATH.
  const npm = env.npm_execpath && /\.c?js$/.test(env.npm_execpath) ? [process.execPath, env.npm_execpath] : ['npm'];
  const args = [...npm.slice(1), existsSync(lock) ? 'ci' : 'install', '--omit=dev', '--no-audit', '--no-fund'];
  const run = spawnSync(npm[0], args, { cwd: FLOWS_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
  if (run.status !== 0) fail(`installing the flows' modules failed (${run.error?.message ?? `npm exited ${run.status}`}); run \`npm ci\` in flows/ to see why`);
}

/** A user directory other than flows/ sees the flows' modules and their package list. */
function prepareUserDir(dir) {
  if (dir === FLOWS_DIR) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), readFileSync(join(FLOWS_DIR, 'package.json')));
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(FLOWS_DIR, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

/**
 * Credentials from the environment into `<userDir>/flows_cred.json`, merged with what
 * is there (set in the editor). Node-RED's format: {"$": hex(iv) + base64(aes-256-ctr(
 * JSON))}, the key sha256(credentialSecret).
 */
function writeCredentials(dir) {
  const given = CREDENTIALS.map(({ node, fields }) => [node, Object.fromEntries(Object.entries(fields).filter(([, name]) => env[name]).map(([field, name]) => [field, env[name]]))]).filter(([, c]) => Object.keys(c).length > 0);
  if (given.length === 0) return;
  const secret = env.NODE_RED_CREDENTIAL_SECRET;
  if (!secret) fail(`${given.map(([n]) => n).join(', ')}: credentials are set in the environment but NODE_RED_CREDENTIAL_SECRET is not; set it, so the credentials file is encrypted`);
  const key = createHash('sha256').update(secret).digest();
  const file = join(dir, 'flows_cred.json');
  let creds = {};
  if (existsSync(file)) {
    try {
      const stored = JSON.parse(readFileSync(file, 'utf8'));
      if (typeof stored.$ === 'string') {
        const decipher = createDecipheriv('aes-256-ctr', key, Buffer.from(stored.$.slice(0, 32), 'hex'));
        creds = JSON.parse(decipher.update(stored.$.slice(32), 'base64', 'utf8') + decipher.final('utf8'));
      } else creds = stored;
    } catch {
      fail(`${file} cannot be read with NODE_RED_CREDENTIAL_SECRET (written with another secret?); move it away to start afresh`);
    }
  }
  for (const [node, c] of given) creds[node] = { ...creds[node], ...c };
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const sealed = { $: iv.toString('hex') + cipher.update(JSON.stringify(creds), 'utf8', 'base64') + cipher.final('base64') };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(sealed)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  say(`credentials of ${given.map(([n]) => n).join(', ')} written to ${file} (encrypted)`);
}
