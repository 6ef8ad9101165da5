import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttAdapter } from '../src/adapters/mqtt.ts';
import { silentLogger } from '../src/log.ts';
import { EventBus } from '../src/model/bus.ts';
import { systemClock } from '../src/model/clock.ts';
import { RoomStateStore } from '../src/model/room-state.ts';
import { RoomctlService } from '../src/service.ts';
import { siteFromYaml } from './helpers/site.ts';
import { freePort, waitFor } from './helpers/wait.ts';

/**
 * Issue 11, item 2: TLS everywhere it matters, with certificates this test makes with
 * openssl (a CA, a server certificate for 127.0.0.1, a client certificate):
 * - the embedded broker listens on TLS only (mqtts), and mosquitto_pub --cafile gets in
 *   while a client that does not trust the CA does not;
 * - roomctl's MQTT client takes ca / cert / key / reject_unauthorized, against a real
 *   Mosquitto that requires client certificates;
 * - the HTTP API serves HTTPS from api.tls.
 */
const dir = mkdtempSync(join(tmpdir(), 'roomctl-tls-'));
const f = (name: string) => join(dir, name);
const cleanups: (() => Promise<unknown> | unknown)[] = [];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=roomctl test CA');
  for (const [name, cn, usage] of [
    ['server', '127.0.0.1', 'serverAuth'],
    ['client', 'roomctl', 'clientAuth'],
  ] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(f(`${name}.ext`), `basicConstraints=CA:FALSE\nextendedKeyUsage=${usage}\n${name === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' : ''}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
  // A second CA nobody trusts, for the refusals.
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=some other CA');
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => execFile(cmd, args, { timeout: 15_000 }, (err, out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${out}${stderr}` })));
}

beforeAll(() => makeCertificates());
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

describe('the embedded broker on TLS', () => {
  let service: RoomctlService;
  let tlsPort: number;

  beforeAll(async () => {
    tlsPort = await freePort();
    const site = siteFromYaml(`
site: { id: tls, name: TLS building, timezone: Asia/Shanghai }
mqtt:
  broker:
    port: ${await freePort()}
    plain: false
    tls: { port: ${tlsPort}, cert: ${f('server.pem')}, key: ${f('server.key')}, ca: ${f('ca.pem')} }
    users: [ { username: keypad-r1, password: kp-secret, keypads: [R1] } ]
api: { enabled: false }
rooms:
  - { id: R1, name: Room 1, capacity: 8, scenes: { meeting: { steps: [ { wait_ms: 0 } ] } } }
`);
    service = new RoomctlService({ site, logger: silentLogger, dataDir: f('data-broker'), api: { enabled: false } });
    cleanups.push(() => service.stop());
    await service.start();
  }, 30_000);

  it('serves mqtts only, and roomctl itself connects over it trusting the configured CA', () => {
    expect(service.mqttUrl).toBe(`mqtts://127.0.0.1:${tlsPort}`);
    expect(service.mqttTlsUrl).toBe(`mqtts://127.0.0.1:${tlsPort}`);
    expect(service.mqtt.connected).toBe(true);
  });

  it('takes a keypad press from mosquitto_pub --cafile, and refuses a client that does not trust the CA', async () => {
    const counts = service.api.keypad.counts;
    const ok = await run('mosquitto_pub', ['--cafile', f('ca.pem'), '-h', '127.0.0.1', '-p', String(tlsPort), '-u', 'keypad-r1', '-P', 'kp-secret', '-q', '1', '-t', 'roomctl/tls/rooms/R1/scene/set', '-m', '{"scene":"meeting","id":"tls-1"}']);
    expect(ok).toEqual({ code: 0, output: '' });
    await waitFor(() => counts.accepted === 1, 10_000, 'the press over TLS');
    const untrusted = await run('mosquitto_pub', ['--cafile', f('other.pem'), '-h', '127.0.0.1', '-p', String(tlsPort), '-u', 'keypad-r1', '-P', 'kp-secret', '-q', '1', '-t', 'roomctl/tls/rooms/R1/scene/set', '-m', 'meeting']);
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.output).toMatch(/A TLS error occurred/);
    const js = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, { reconnectPeriod: 0, connectTimeout: 5000, username: 'keypad-r1', password: 'kp-secret' }).catch((e: Error) => e);
    expect((js as Error).message).toMatch(/self[- ]signed|unable to verify|certificate/i);
    expect(counts.accepted).toBe(1);
  });
});

describe("roomctl's MQTT client against a Mosquitto that requires client certificates", () => {
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    const conf = f('mosquitto-tls.conf');
    const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `cafile ${f('ca.pem')}`, `certfile ${f('server.pem')}`, `keyfile ${f('server.key')}`, 'require_certificate true', 'log_dest stderr'];
    if (process.getuid?.() === 0) lines.push('user root');
    writeFileSync(conf, `${lines.join('\n')}\n`);
    const child: ChildProcess = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanups.push(() => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM')))));
    await waitFor(() => run('mosquitto_pub', ['--cafile', f('ca.pem'), '--cert', f('client.pem'), '--key', f('client.key'), '-h', '127.0.0.1', '-p', String(port), '-t', 'probe', '-m', 'x']).then((r) => r.code === 0), 15_000, 'mosquitto on TLS');
  }, 30_000);

  const adapter = (tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean }) => {
    const site = siteFromYaml('site: { id: t, name: T, timezone: Asia/Shanghai }\nrooms: [ { id: R1, name: R, capacity: 2 } ]\n');
    const bus = new EventBus();
    const a = new MqttAdapter({ url: `mqtts://127.0.0.1:${port}`, clientId: `roomctl-tls-${Math.random().toString(16).slice(2, 8)}`, sitePrefix: 'roomctl/t', reconnect: { minMs: 500, maxMs: 5000 }, firstConnectMs: 3000, tls }, [], new RoomStateStore(site, bus, systemClock), bus, systemClock, silentLogger);
    cleanups.push(() => a.stop());
    return a;
  };

  it('connects with the CA, client certificate and key from mqtt.tls', async () => {
    const a = adapter({ ca: f('ca.pem'), cert: f('client.pem'), key: f('client.key') });
    await a.start();
    expect(a.connected).toBe(true);
    const sub = await run('mosquitto_sub', ['--cafile', f('ca.pem'), '--cert', f('client.pem'), '--key', f('client.key'), '-h', '127.0.0.1', '-p', String(port), '-t', 'roomctl/t/status', '-C', '1', '-W', '5']);
    expect(sub).toEqual({ code: 0, output: 'online\n' });
  });

  it('does not connect without the client certificate, nor to a broker whose CA it does not trust', async () => {
    const noCert = adapter({ ca: f('ca.pem') });
    await noCert.start();
    expect(noCert.connected).toBe(false);
    const wrongCa = adapter({ ca: f('other.pem'), cert: f('client.pem'), key: f('client.key') });
    await wrongCa.start();
    expect(wrongCa.connected).toBe(false);
  });

  it('connects to an untrusted broker only with reject_unauthorized: false', async () => {
    const lax = adapter({ cert: f('client.pem'), key: f('client.key'), rejectUnauthorized: false });
    await lax.start();
    expect(lax.connected).toBe(true);
  });
});

describe('the HTTP API on HTTPS', () => {
  it('serves /healthz over TLS from api.tls and names an https:// URL', async () => {
    const site = siteFromYaml(`
site: { id: api, name: API TLS, timezone: Asia/Shanghai }
mqtt: { broker: { port: ${await freePort()} } }
api: { port: 0, tls: { cert: ${f('server.pem')}, key: ${f('server.key')} } }
rooms: [ { id: R1, name: R, capacity: 2 } ]
`);
    const service = new RoomctlService({ site, logger: silentLogger, dataDir: f('data-api') });
    cleanups.push(() => service.stop());
    await service.start();
    const url = service.api.url!;
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${url}/healthz`, { ca: readFileSync(f('ca.pem')) }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    const plain = await fetch(url.replace('https:', 'http:') + '/healthz').then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).toBe('refused');
  });
});
