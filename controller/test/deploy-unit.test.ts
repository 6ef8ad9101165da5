import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmInstall, packRoomctl, repoRoot, run } from './helpers/packed-roomctl.ts';
import { freePort, waitFor } from './helpers/wait.ts';

/**
 * deploy/roomctl.service, the systemd unit of a site. roomctl is installed the way the
 * unit's comments say (`npm install -g --prefix /opt/roomctl ./roomctl-<v>.tgz`), into a
 * temporary prefix that stands in for /opt/roomctl; the unit is checked by
 * `systemd-analyze verify` against that installed binary, and its ExecStart is run as
 * written — with its environment file, its data directory — and stopped the way systemd
 * stops it, by SIGTERM.
 */
const UNIT = readFileSync(join(repoRoot, 'deploy/roomctl.service'), 'utf8');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
let work: string;
let prefix: string;

/** The unit's value of `key` in its [Service] section (the last one wins, as in systemd). */
function directive(key: string): string | undefined {
  const values = UNIT.split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
  return values.at(-1);
}

/** systemd's EnvironmentFile= format as far as roomctl.env uses it: KEY=value lines, # comments. */
function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith(';')) continue;
    const eq = t.indexOf('=');
    if (eq < 1) throw new Error(`not KEY=value: ${line}`);
    env[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return env;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roomctl-deploy-unit-'));
  prefix = join(work, 'opt-roomctl');
  const tarball = await packRoomctl(join(work, 'pack'));
  const { seconds } = await npmInstall(work, ['-g', '--prefix', prefix, tarball]);
  console.log(`npm install -g --prefix of the tarball took ${seconds.toFixed(1)} s`);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('deploy/roomctl.service', () => {
  it('names what a site needs: the roomctl user, StateDirectory as the data folder, /etc/roomctl config and env file, restart on failure, stop by SIGTERM after the network is up', () => {
    expect(directive('User')).toBe('roomctl');
    expect(directive('StateDirectory')).toBe('roomctl');
    expect(directive('EnvironmentFile')).toBe('-/etc/roomctl/roomctl.env');
    expect(directive('ExecStart')).toBe('/opt/roomctl/bin/roomctl start --config /etc/roomctl/site.yaml --data-dir /var/lib/roomctl');
    expect(directive('Restart')).toBe('on-failure');
    expect(directive('KillSignal')).toBe('SIGTERM');
    expect(directive('After')).toBe('network-online.target');
    expect(directive('ReadWritePaths')).toBe('/var/lib/roomctl');
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes']]) expect(directive(key!), key).toBe(value);
    // V8's JIT needs writable+executable memory: this hardening option would stop node at start.
    expect(directive('MemoryDenyWriteExecute')).toBeUndefined();
  });

  it('passes systemd-analyze verify with ExecStart pointing at roomctl installed from the npm tarball, and verify does report a misspelt directive here', async (ctx) => {
    if (!existsSync(SYSTEMD_ANALYZE)) ctx.skip(`${SYSTEMD_ANALYZE} is not installed (Debian package systemd): the unit was not verified`);
    const dir = join(work, 'units');
    mkdirSync(dir, { recursive: true });
    // Only the install prefix is substituted: /opt/roomctl → where the tarball was installed.
    const unit = join(dir, 'roomctl.service');
    writeFileSync(unit, UNIT.replaceAll('/opt/roomctl', prefix));
    const verified = await run(SYSTEMD_ANALYZE, ['verify', unit]);
    expect(verified.stderr + verified.stdout).toBe('');
    expect(verified.code).toBe(0);
    // The control: the same verify run flags a mistake in this file, so the clean result above means something.
    const broken = join(dir, 'broken', 'roomctl.service');
    mkdirSync(join(dir, 'broken'));
    writeFileSync(broken, UNIT.replaceAll('/opt/roomctl', prefix).replace('ProtectHome=yes', 'ProtectHomme=yes'));
    const flagged = await run(SYSTEMD_ANALYZE, ['verify', broken]);
    expect(flagged.stderr).toContain("Unknown key 'ProtectHomme'");
    // And a missing binary fails it: verify really looks at ExecStart.
    writeFileSync(broken, UNIT.replaceAll('/opt/roomctl', join(work, 'nowhere')));
    const missing = await run(SYSTEMD_ANALYZE, ['verify', broken]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/is not executable/);
  });

  it('runs its ExecStart as written: the config\'s ${VAR} secret comes from the environment file, data goes to the --data-dir and nowhere in HOME, and SIGTERM exits 0', { timeout: 120_000 }, async () => {
    const brokerPort = await freePort();
    const apiPort = await freePort();
    const etc = join(work, 'etc-roomctl');
    const state = join(work, 'var-lib-roomctl');
    const home = join(work, 'home');
    for (const d of [etc, state, home]) mkdirSync(d, { recursive: true });
    writeFileSync(join(etc, 'site.yaml'), `
site: { id: svc, name: Service test, timezone: Asia/Shanghai }
mqtt:
  username: roomctl
  password: \${ROOMCTL_MQTT_PASSWORD}
  broker: { port: ${brokerPort} }
api: { port: ${apiPort} }
rooms:
  - { id: R1, name: Room 1, capacity: 8, devices: [ { name: door, profile: door-mqtt, mqtt: { base: svc/R1/door } } ] }
`);
    writeFileSync(join(etc, 'roomctl.env'), '# secrets of site.yaml\nROOMCTL_MQTT_PASSWORD=from-the-env-file\n');
    const command = directive('ExecStart')!
      .replaceAll('/opt/roomctl', prefix)
      .replaceAll('/etc/roomctl', etc)
      .replaceAll('/var/lib/roomctl', state)
      .split(/\s+/);
    // As systemd would: the env file's variables, HOME of a user with no home of its own.
    const env = { PATH: process.env.PATH!, HOME: home, ...parseEnvironmentFile(readFileSync(join(etc, 'roomctl.env'), 'utf8')) };
    const child = spawn(command[0]!, command.slice(1), { cwd: state, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitFor(() => out.includes('roomctl started'), 60_000, 'roomctl started');
      expect(out).toContain(`data ${state}`);
      // The embedded broker takes roomctl's login with the password of the env file, and only that.
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { username: 'roomctl', password: 'from-the-env-file', reconnectPeriod: 0, clientId: 'deploy-unit-test' });
      let status = '';
      client.on('message', (_t, p) => (status = p.toString()));
      await client.subscribeAsync('roomctl/svc/status', { qos: 1 });
      await waitFor(() => status === 'online', 30_000, 'roomctl/svc/status online');
      await client.endAsync(true);
      await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { username: 'roomctl', password: 'not-it', reconnectPeriod: 0 })).rejects.toThrow(/Not authorized|Bad username or password/i);
      child.kill('SIGTERM');
      expect(await exit, out).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(out).toMatch(/"signal":"SIGTERM".*"msg":"stopping"/);
    expect(out).toContain('stopped cleanly');
    expect(readdirSync(state)).toContain('spool');
    expect(readdirSync(home)).toEqual([]);
  });
});
