import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { freePort, waitFor } from './helpers/wait.ts';

/**
 * Issue 13, CLI and data: where a site's data goes (never the current directory),
 * `--data-dir`, `data_dir:` in the config, `--log-level`, `--api-port`/`--broker-port`,
 * `--version`; the demo keeps to its own folder; `roomctl token` finds the same folder.
 */
const root = resolve(import.meta.dirname, '../..');
const roomctl = join(root, 'bin/roomctl.js');
const scratch = mkdtempSync(join(tmpdir(), 'roomctl-data-dir-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh working directory and state home: what a user's shell would be. */
function shell(name: string): { cwd: string; env: NodeJS.ProcessEnv; state: string } {
  const cwd = join(scratch, name, 'cwd');
  const state = join(scratch, name, 'state');
  mkdirSync(cwd, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: state };
  delete env.ROOMCTL_LOG_LEVEL;
  return { cwd, state, env };
}

const SITE = (extra = '') => `
site: { id: hq, name: HQ, timezone: Asia/Shanghai }
${extra}
rooms:
  - { id: R1, name: Room 1, capacity: 8, devices: [ { name: door, profile: door-mqtt, mqtt: { base: hq/door } } ] }
`;

function start(args: string[], sh: { cwd: string; env: NodeJS.ProcessEnv }) {
  const child = spawn(process.execPath, [roomctl, 'start', ...args], { cwd: sh.cwd, env: sh.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exit };
}

describe('roomctl start: data folder, ports, log level', () => {
  it('keeps a site\'s data under the state directory by default, not the current one; takes --broker-port, --api-port and --log-level', { timeout: 60_000 }, async () => {
    const sh = shell('default');
    const config = join(scratch, 'default', 'site.yaml');
    const brokerPort = await freePort();
    writeFileSync(config, SITE(`mqtt: { broker: { port: 1, users: [ { username: door-r1, password: pw, devices: [R1/door] } ] } }`));
    const run = start(['--config', config, '--broker-port', String(brokerPort), '--api-port', '0', '--log-level', 'debug'], sh);
    const expected = join(sh.state, 'roomctl', 'sites', 'hq');
    await waitFor(() => run.output().includes(`data ${expected}`), 30_000, 'the start line naming the data folder');
    // The broker listens on the port of the command line, not the config's (port 1 would have failed).
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { username: 'door-r1', password: 'pw', reconnectPeriod: 0 });
    await device.publishAsync('hq/door/availability', 'online');
    await device.publishAsync('hq/door/state', JSON.stringify({ contact: 'closed', locked: true }));
    // A device coming online is logged at debug only.
    await waitFor(() => /"level":20.*device R1\/door online/.test(run.output()), 30_000, 'the debug line of the door coming online');
    await device.endAsync(true);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect(existsSync(join(expected, 'spool'))).toBe(true);
    expect(readdirSync(sh.cwd)).toEqual([]);
  });

  it('uses data_dir from the config relative to the config file, and --data-dir over it', { timeout: 60_000 }, async () => {
    const sh = shell('configured');
    const siteDir = join(scratch, 'configured', 'site');
    mkdirSync(siteDir, { recursive: true });
    const config = join(siteDir, 'site.yaml');
    writeFileSync(config, SITE(`data_dir: ./var\nmqtt: { broker: { port: ${await freePort()}, allow_anonymous: true } }`));
    const first = start(['--config', config, '--api-port', '0'], sh);
    await waitFor(() => first.output().includes(`data ${join(siteDir, 'var')}`), 30_000, 'data_dir relative to the config file');
    first.child.kill('SIGINT');
    expect(await first.exit).toBe(0);
    const flag = join(scratch, 'configured', 'elsewhere');
    const second = start(['--config', config, '--api-port', '0', '--data-dir', flag], sh);
    await waitFor(() => second.output().includes(`data ${flag}`), 30_000, '--data-dir over data_dir');
    second.child.kill('SIGINT');
    expect(await second.exit).toBe(0);
    expect(existsSync(join(flag, 'spool'))).toBe(true);
    expect(existsSync(join(siteDir, 'var', 'spool'))).toBe(true);
  });

  it('refuses an unknown log level and a bad port, saying which values it takes', () => {
    const sh = shell('bad-flags');
    const level = spawnSync(process.execPath, [roomctl, 'start', '--simulate', '--log-level', 'loud'], { cwd: sh.cwd, env: sh.env, encoding: 'utf8' });
    expect(level.status).not.toBe(0);
    expect(level.stderr).toContain('expected one of fatal, error, warn, info, debug, trace');
    const port = spawnSync(process.execPath, [roomctl, 'start', '--simulate', '--api-port', '70000'], { cwd: sh.cwd, env: sh.env, encoding: 'utf8' });
    expect(port.status).not.toBe(0);
    expect(port.stderr).toContain('expected a port number 0–65535');
  });

  it('prints its version', () => {
    const r = spawnSync(process.execPath, [roomctl, '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  });
});

describe('the demo\'s folder and the token command', () => {
  it('the demo refuses to reset a folder holding a real site\'s data, and leaves it as it was', () => {
    const sh = shell('demo-refuses');
    const real = join(scratch, 'demo-refuses', 'real-site');
    mkdirSync(real, { recursive: true });
    writeFileSync(join(real, 'meetings.json'), '{"meetings":[]}');
    const r = spawnSync(process.execPath, [roomctl, 'start', '--simulate', '--data-dir', real], { cwd: sh.cwd, env: sh.env, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${real} holds data that is not the demo's (meetings.json)`);
    expect(readFileSync(join(real, 'meetings.json'), 'utf8')).toBe('{"meetings":[]}');
  });

  it('roomctl token asks whose tokens are meant, and finds the demo\'s and a site\'s folders', () => {
    const sh = shell('tokens');
    const none = spawnSync(process.execPath, [roomctl, 'token', 'create', '--role', 'viewer'], { cwd: sh.cwd, env: sh.env, encoding: 'utf8' });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('say whose tokens: --config FILE (the site), --data-dir DIR, or --demo');
    const demo = spawnSync(process.execPath, [roomctl, 'token', 'create', '--role', 'viewer', '--demo'], { cwd: sh.cwd, env: sh.env, encoding: 'utf8' });
    expect(demo.status, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/^rct_/);
    expect(existsSync(join(sh.state, 'roomctl', 'demo', 'demo', 'tokens.json'))).toBe(true);
    const config = join(scratch, 'tokens', 'site.yaml');
    writeFileSync(config, SITE());
    const site = spawnSync(process.execPath, [roomctl, 'token', 'create', '--role', 'panel', '--rooms', 'R1', '--config', config], { cwd: sh.cwd, env: sh.env, encoding: 'utf8' });
    expect(site.status, site.stderr).toBe(0);
    expect(existsSync(join(sh.state, 'roomctl', 'sites', 'hq', 'tokens.json'))).toBe(true);
    expect(readdirSync(sh.cwd)).toEqual([]);
  });
});
