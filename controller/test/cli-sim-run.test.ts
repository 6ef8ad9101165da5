import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `roomctl sim run` as a user runs it: the real CLI in a child process plays a short
 * simulated day of a two-room building with a fault file, and prints the JSON report.
 */
const root = resolve(import.meta.dirname, '../..');
let dir: string;

const room = (id: string, gw: string) => `
  - id: ${id}
    name: Room ${id}
    capacity: 8
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: ${gw}, unit: 1, poll_ms: 15000 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: run/${id}/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: run/${id}/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: run/${id}/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: run/${id}/occupancy } }
      - { name: display, profile: display-mqtt, mqtt: { base: run/${id}/display } }
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 } ] }`;

const CONFIG = `
site:
  id: run
  name: Sim run
  timezone: Asia/Shanghai
  routines: { end_of_day: "10:30" }
modbus:
  gateways:
    - { id: gw1, tcp: { host: 127.0.0.1, port: 1502 } }
    - { id: gw2, tcp: { host: 127.0.0.1, port: 1503 } }
rooms:${room('R1', 'gw1')}${room('R2', 'gw2')}
simulation:
  seed: 5
  day: 2025-07-16
  start: "08:00"
  meetings:
    - { id: ok-meeting, room: R1, start: "09:00", end: "09:30", attendees: 4, title: Confidential merger, organizer: Director Li }
    - { id: dark-display, room: R2, start: "09:15", end: "09:45", attendees: 3 }
`;

function roomctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [join(root, 'bin/roomctl.js'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'roomctl-sim-run-'));
  writeFileSync(join(dir, 'site.yaml'), CONFIG);
  writeFileSync(join(dir, 'faults.yaml'), '- { room: R2, kind: display_no_power, at: "08:00" }\n');
  writeFileSync(join(dir, 'bad-faults.json'), JSON.stringify([{ room: 'R9', kind: 'broken_toaster', at: '25:00' }]));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('roomctl sim run', () => {
  it('plays a simulated day with a fault file and prints each meeting\'s verdict, failing checks, alerts, HVAC minutes and the day\'s summary as JSON', { timeout: 180_000 }, async () => {
    const run = await roomctl(['sim', 'run', '--config', 'site.yaml', '--faults', 'faults.yaml', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    // Played from early enough for the 09:00 meeting's whole pre-conditioning window (P5: 180 min
    // before T-15, less 5 min for the first polls), as a controller running overnight would have it.
    expect(report).toMatchObject({ site: 'run', day: '2025-07-16', start: '05:40', seed: 5 });
    expect(report.faults).toEqual([{ room: 'R2', kind: 'display_no_power', clear: false, at: '08:00:00' }]);
    const byId = Object.fromEntries(report.meetings.map((m: { id: string }) => [m.id, m]));
    expect(byId['ok-meeting'].verdict).toMatchObject({ readyAtReadyCheck: true, readyAtStart: true, noShow: false, minutesLate: 0 });
    expect(byId['ok-meeting'].temperatureInBandAtReadyCheck).toBe(true);
    expect(byId['ok-meeting'].hvacMinutes).toBeGreaterThan(0);
    expect(byId['dark-display'].verdict).toMatchObject({ readyAtReadyCheck: false, failingChecks: ['display_on'] });
    expect(byId['dark-display'].failingChecks.map((c: { check: string; step: string }) => `${c.check}@${c.step}`)).toContain('display_on@av_on');
    expect(byId['dark-display'].alerts.filter((a: { state: string }) => a.state === 'raised').map((a: { check: string }) => a.check)).toEqual(['display_on']);
    expect(report.summary).toMatchObject({ meetings: 2, readyAtReadyCheck: 1, readyAtStart: 1, noShows: 0, late: 0, alertsRaised: 1 });
    expect(report.summary.hvacMinutes).toBeGreaterThan(0);
    expect(report.summary.virtualHours).toBeGreaterThanOrEqual(3);
    expect(report.rooms.map((r: { room: string; endOfDay: unknown }) => [r.room, r.endOfDay])).toEqual([
      ['R1', { leftOn: [], failed: [] }],
      ['R2', { leftOn: [], failed: [] }],
    ]);
    // P15: the report names meetings by id only.
    expect(run.stdout).not.toContain('Confidential merger');
    expect(run.stdout).not.toContain('Director Li');
  });

  it('refuses a fault file with unknown rooms, kinds or times, naming each problem', async () => {
    const run = await roomctl(['sim', 'run', '--config', 'site.yaml', '--faults', 'bad-faults.json', '--json']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('faults[0].at: a time as HH:MM');
    const fixed = join(dir, 'bad-kind.json');
    writeFileSync(fixed, JSON.stringify([{ room: 'R9', kind: 'broken_toaster', at: '09:00' }]));
    const second = await roomctl(['sim', 'run', '--config', 'site.yaml', '--faults', fixed]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/faults\[0\]\.room: no room "R9"/);
    expect(second.stderr).toMatch(/faults\[0\]\.kind: unknown fault "broken_toaster"/);
    const badStart = await roomctl(['sim', 'run', '--config', 'site.yaml', '--start', '7:30']);
    expect(badStart.code).toBe(2);
    expect(badStart.stderr).toContain('--start: expected HH:MM, got "7:30"');
  });
});
