import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from './helpers/wait.ts';

const root = resolve(import.meta.dirname, '../..');
const roomctl = join(root, 'bin/roomctl.js');

/** The shipped demo config with every fixed port moved to a free one, so the test can run beside anything. */
async function demoOnFreePorts(): Promise<{ file: string; controlPort: number }> {
  let text = readFileSync(join(root, 'config/demo.yaml'), 'utf8');
  for (const port of [5020, 5021, 5022, 5023]) text = text.replaceAll(`port: ${port} }`, `port: ${await freePort()} }`);
  const controlPort = await freePort();
  text = text.replace(/control_port: \d+/, `control_port: ${controlPort}`);
  expect(text).not.toMatch(/^mqtt:/m); // the demo uses the embedded broker; give it a free port
  text += `\nmqtt:\n  broker: { port: ${await freePort()} }\n`;
  const file = join(mkdtempSync(join(tmpdir(), 'roomctl-demo-')), 'demo.yaml');
  writeFileSync(file, text);
  return { file, controlPort };
}

describe('the demo (roomctl start --simulate, what npm start runs)', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('shows the demo building living through its day, takes a fault from `roomctl sim fault`, and exits 0 on Ctrl-C', async () => {
    const { file, controlPort } = await demoOnFreePorts();
    // The demo's data goes to <state home>/roomctl/demo/<site>: a state home of the test's own.
    const state = mkdtempSync(join(tmpdir(), 'roomctl-demo-state-'));
    // A fixed summer day (--day): the default, today, is health-truth.test.ts's.
    child = spawn(process.execPath, [roomctl, 'start', '--simulate', '--config', file, '--speed', '120', '--day', '2025-07-16'], { cwd: root, env: { ...process.env, XDG_STATE_HOME: state }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exit = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    // Not a TTY: the table is printed as plain lines, first right after start.
    await waitFor(() => /room\s+seats\s+temp °C \(band\)/.test(out), 60_000, 'the room table');
    expect(out).toMatch(/roomctl demo · Demo Government Office Building · Wed 2025-07-16 \d{2}:\d{2} \(summer\)/);
    for (const room of ['1F-101', '2F-201', '3F-301', '4F-404']) expect(out).toMatch(new RegExp(`^${room}\\s+\\d+\\s+\\d+\\.\\d`, 'm'));
    await waitFor(() => /roomctl started: site demo, 9 rooms/.test(err), 30_000, 'the start log line');

    const fault = spawnSync(process.execPath, [roomctl, 'sim', 'fault', '3F-301', 'dead_mic:2', '--url', `http://127.0.0.1:${controlPort}`], { cwd: root, encoding: 'utf8' });
    expect(fault.stdout.trim()).toBe('injected dead_mic:2 in 3F-301');
    expect(fault.status).toBe(0);
    const bad = spawnSync(process.execPath, [roomctl, 'sim', 'fault', '3F-301', 'gremlins', '--url', `http://127.0.0.1:${controlPort}`], { cwd: root, encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/fault kinds: .*dead_mic/);

    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(err).toMatch(/stopped cleanly/);
    // Its own folder, marked as the demo's, never the working directory (issue 13).
    expect(existsSync(join(state, 'roomctl', 'demo', 'demo', 'roomctl-demo'))).toBe(true);
    expect(existsSync(join(state, 'roomctl', 'demo', 'demo', 'spool'))).toBe(true);
  });

  it('through `npm start`, one Ctrl-C (the terminal signals the whole process group, npm forwards it again) stops cleanly and exits 0', { timeout: 120_000 }, async () => {
    const { file } = await demoOnFreePorts();
    const state = mkdtempSync(join(tmpdir(), 'roomctl-npm-start-state-'));
    // Its own process group, as a terminal's foreground job: the group gets the SIGINT.
    const npm = spawn('npm', ['start', '--', '--config', file, '--api-port', '0', '--speed', '120'], { cwd: root, env: { ...process.env, XDG_STATE_HOME: state }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = npm;
    let err = '';
    npm.stdout!.on('data', () => {});
    npm.stderr!.on('data', (d) => (err += d));
    const exit = new Promise<number | null>((r) => npm.once('exit', (code) => r(code)));
    await waitFor(() => /roomctl started: site demo/.test(err), 90_000, 'the start log line');
    process.kill(-npm.pid!, 'SIGINT');
    expect(await exit).toBe(0);
    expect(err).toMatch(/stopped cleanly/);
  });
});
