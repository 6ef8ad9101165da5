import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, run } from './helpers/packed-roomctl.ts';
import { freePort, waitFor } from './helpers/wait.ts';

/**
 * deploy/docker-compose.yml is UNTESTED as a whole: no container engine runs here. What
 * can be checked without one is checked: the file parses; every file it mounts and every
 * build input exists in the repository; the Grafana datasource it provisions is the
 * dashboards' one with the compose network's address; site.yaml validates; Mosquitto's
 * config, ACL and password script work with a real Mosquitto; and a compose CLI, where
 * one is installed, accepts the file (`config`) and names a missing secret.
 */
const deploy = join(repoRoot, 'deploy');
type Service = { image?: string; build?: { context: string; dockerfile: string }; volumes?: string[]; environment?: Record<string, string> };
const compose = parse(readFileSync(join(deploy, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const SECRETS = { ROOMCTL_MQTT_PASSWORD: 'a', ROOMCTL_INFLUX_PASSWORD: 'b', GRAFANA_INFLUX_PASSWORD: 'c', GRAFANA_ADMIN_PASSWORD: 'd', NODE_RED_MQTT_PASSWORD: 'e', NODE_RED_CREDENTIAL_SECRET: 'f', ROOMCTL_SITE: 'my-building' };
const work = mkdtempSync(join(tmpdir(), 'roomctl-deploy-compose-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** [source, target] of each bind mount (a source starting with . or /), named volumes apart. */
function mounts(service: Service): { binds: [string, string][]; named: string[] } {
  const binds: [string, string][] = [];
  const named: string[] = [];
  for (const v of service.volumes ?? []) {
    const [source, target] = v.split(':') as [string, string];
    if (/^[./]/.test(source)) binds.push([source, target]);
    else named.push(source);
  }
  return { binds, named };
}

/** COPY sources of a Dockerfile (flags like --chown dropped; the last word is the destination). */
function copySources(dockerfile: string): string[] {
  return readFileSync(dockerfile, 'utf8')
    .split('\n')
    .filter((l) => /^COPY\s/.test(l))
    .flatMap((l) => l.split(/\s+/).slice(1, -1).filter((w) => !w.startsWith('--')));
}

describe('deploy/docker-compose.yml (checked without a container engine)', () => {
  it('runs roomctl, Mosquitto, InfluxDB 1.8, Grafana and Node-RED 4, and roomctl\'s image is node:20-slim with npm ci --omit=dev running the bin', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['grafana', 'influxdb', 'mosquitto', 'mosquitto-logins', 'node-red', 'roomctl']);
    expect(compose.services.influxdb!.image).toBe('influxdb:1.8');
    expect(compose.services.mosquitto!.image).toMatch(/^eclipse-mosquitto:2/);
    expect(readFileSync(join(deploy, 'node-red.Dockerfile'), 'utf8')).toMatch(/^FROM nodered\/node-red:4\.\d+\.\d+-20$/m);
    const dockerfile = readFileSync(join(deploy, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-slim$/m);
    expect(dockerfile).toContain('npm ci --omit=dev');
    expect(dockerfile).toContain('ENTRYPOINT ["node", "/opt/roomctl/bin/roomctl.js"]');
    expect(mounts(compose.services.roomctl!).binds).toContainEqual(['./site.yaml', '/etc/roomctl/site.yaml']);
  });

  it('mounts and builds only from files that exist in the repository, and declares every named volume it uses', () => {
    const missing: string[] = [];
    const undeclared: string[] = [];
    for (const [name, service] of Object.entries(compose.services)) {
      const { binds, named } = mounts(service);
      for (const [source] of binds) if (!existsSync(resolve(deploy, source))) missing.push(`${name}: ${source}`);
      for (const v of named) if (!(v in (compose.volumes ?? {}))) undeclared.push(`${name}: ${v}`);
      if (service.build) {
        const context = resolve(deploy, service.build.context);
        const dockerfile = join(context, service.build.dockerfile);
        if (!existsSync(dockerfile)) missing.push(`${name}: ${service.build.dockerfile}`);
        else for (const source of copySources(dockerfile)) if (!existsSync(join(context, source))) missing.push(`${name}: COPY ${source}`);
      }
    }
    expect(missing).toEqual([]);
    expect(undeclared).toEqual([]);
  });

  it('provisions Grafana with the dashboards\' own datasource (uid, InfluxQL, database) on the compose network, and the provider\'s folder is where the dashboards are mounted', () => {
    const ours = parse(readFileSync(join(deploy, 'grafana/datasources/roomctl-influxdb.yaml'), 'utf8')).datasources[0];
    const shipped = parse(readFileSync(join(repoRoot, 'dashboards/datasources/roomctl-influxdb.yaml'), 'utf8')).datasources[0];
    expect(ours.url).toBe('http://influxdb:8086');
    const same = (d: Record<string, unknown>) => ({ name: d.name, uid: d.uid, type: d.type, access: d.access, jsonData: d.jsonData });
    expect(same(ours)).toEqual(same(shipped));
    const provider = parse(readFileSync(join(repoRoot, 'dashboards/dashboards/provider.yaml'), 'utf8')).providers[0];
    expect(mounts(compose.services.grafana!).binds).toContainEqual(['../dashboards/json', provider.options.path]);
  });

  it('mounts a site.yaml that validates once its secrets are in the environment, and says which variable is missing otherwise', async () => {
    const roomctl = (env: NodeJS.ProcessEnv) => run(process.execPath, [join(repoRoot, 'bin/roomctl.js'), 'validate', 'deploy/site.yaml'], { cwd: repoRoot, env });
    const ok = await roomctl({ ...process.env, ...SECRETS });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('deploy/site.yaml: OK — site my-building, 1 room, 3 devices, 6 points, 1 scene; MQTT mqtt://mosquitto:1883\n');
    const { ROOMCTL_INFLUX_PASSWORD: _, ...without } = { ...process.env, ...SECRETS };
    const bad = await roomctl(without);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('influx.password: environment variable ROOMCTL_INFLUX_PASSWORD is not set');
    // The flows' ROOMCTL_SITE default in .env.example is this site's id.
    expect(readFileSync(join(deploy, '.env.example'), 'utf8')).toMatch(/^ROOMCTL_SITE=my-building$/m);
  });

  it('is accepted by `docker compose config` (or docker-compose) with the secrets set, which names a secret left out', async (ctx) => {
    const plugin = await run('docker', ['compose', 'version']).catch(() => undefined);
    const cli = plugin?.code === 0 ? ['docker', 'compose'] : existsSync('/usr/bin/docker-compose') ? ['/usr/bin/docker-compose'] : undefined;
    if (!cli) ctx.skip('no compose CLI here (docker has no compose plugin; Debian package docker-compose not installed): the file was not checked by compose');
    const config = (env: Record<string, string>) => run(cli![0]!, [...cli!.slice(1), '-f', join(deploy, 'docker-compose.yml'), 'config'], { cwd: work, env: { PATH: process.env.PATH!, HOME: work, ...env } });
    const ok = await config(SECRETS);
    expect(ok.stderr).not.toMatch(/invalid|error/i);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('GF_SECURITY_ADMIN_PASSWORD: d');
    const { GRAFANA_ADMIN_PASSWORD: _, ...without } = SECRETS;
    const bad = await config(without);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('set it in deploy/.env');
  });
});

describe('deploy/mosquitto (against a real Mosquitto)', () => {
  let broker: ChildProcess | undefined;
  afterAll(() => broker?.kill('SIGKILL'));

  it('make-passwd.sh writes the roomctl and node-red logins from the environment and keeps a device login added by hand; the broker refuses anonymous clients and wrong passwords', { timeout: 60_000 }, async () => {
    const passwd = join(work, 'passwd/passwd');
    const script = join(deploy, 'mosquitto/make-passwd.sh');
    const env = { PATH: process.env.PATH!, ROOMCTL_MQTT_PASSWORD: 'roomctl-pw', NODE_RED_MQTT_PASSWORD: 'node-red-pw' };
    const first = await run('sh', [script, passwd], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(await run('mosquitto_passwd', ['-b', passwd, 'lights-301', 'lights-pw'])).toMatchObject({ code: 0 });
    const again = await run('sh', [script, passwd], { env: { ...env, ROOMCTL_MQTT_PASSWORD: 'rotated-pw' } });
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(passwd, 'utf8').split('\n').filter(Boolean).map((l) => l.split(':')[0])).toEqual(['roomctl', 'node-red', 'lights-301']);
    const missing = await run('sh', [script, passwd], { env: { PATH: process.env.PATH! } });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('ROOMCTL_MQTT_PASSWORD');

    // deploy's mosquitto.conf with the container's paths moved into this test's folder.
    const port = await freePort();
    mkdirSync(join(work, 'data'));
    const conf = readFileSync(join(deploy, 'mosquitto/mosquitto.conf'), 'utf8')
      .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
      .replace('/mosquitto/passwd/passwd', passwd)
      .replace('/mosquitto/config/acl', join(deploy, 'mosquitto/acl'))
      .replace('/mosquitto/data/', `${join(work, 'data')}/`);
    expect(conf).toContain(`listener ${port} 127.0.0.1`);
    const confFile = join(work, 'mosquitto.conf');
    // As root, mosquitto would switch to its own user, which cannot read this folder.
    writeFileSync(confFile, process.getuid?.() === 0 ? `${conf}user root\n` : conf);
    chmodSync(dirname(passwd), 0o700);
    let log = '';
    broker = spawn('/usr/sbin/mosquitto', ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    broker.stdout!.on('data', (d) => (log += d));
    broker.stderr!.on('data', (d) => (log += d));
    const url = `mqtt://127.0.0.1:${port}`;
    const login = (username?: string, password?: string) => mqtt.connectAsync(url, { username, password, reconnectPeriod: 0, connectTimeout: 5000 });
    const roomctl = await waitFor(() => login('roomctl', 'rotated-pw').catch(() => undefined), 15_000, `mosquitto with deploy's config (log: ${log})`);
    await expect(login()).rejects.toThrow(/Not authorized/i);
    await expect(login('roomctl', 'roomctl-pw')).rejects.toThrow(/Not authorized/i);
    const device = await login('lights-301', 'lights-pw');
    await device.endAsync(true);

    // The ACL: node-red may ask for a scene, not command a device directly.
    const seen: string[] = [];
    roomctl.on('message', (topic) => seen.push(topic));
    await roomctl.subscribeAsync('#', { qos: 1 });
    const nodeRed = await login('node-red', 'node-red-pw');
    await nodeRed.publishAsync('building/3F-301/lights/main/set', '{"on":true}', { qos: 1 });
    await nodeRed.publishAsync('roomctl/my-building/rooms/3F-301/scene/set', 'meeting', { qos: 1 });
    await waitFor(() => seen.includes('roomctl/my-building/rooms/3F-301/scene/set'), 10_000, 'the scene request at roomctl');
    expect(seen).toEqual(['roomctl/my-building/rooms/3F-301/scene/set']);
    await nodeRed.endAsync(true);
    await roomctl.endAsync(true);
  });
});
