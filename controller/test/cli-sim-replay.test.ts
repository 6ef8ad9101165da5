import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The what-if replay as a user runs it (issue 14, item 2): `roomctl sim run --days N
 * --from DATE --policy FILE` in a child process plays consecutive days of a one-room
 * building, learning carried from day to day, once as configured and once under a
 * what-if policy (in a second roomctl process), over the simulator's real sockets.
 */
const root = resolve(import.meta.dirname, '../..');
let dir: string;

const CONFIG = `
site:
  id: replay
  name: Replay
  timezone: Asia/Shanghai
  routines: { end_of_day: "10:30" }
modbus:
  gateways:
    - { id: gw1, tcp: { host: 127.0.0.1, port: 1502 } }
policies:
  standard: {}
rooms:
  - id: R1
    name: Room R1
    capacity: 8
    policy: standard
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw1, unit: 1, poll_ms: 15000 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: replay/R1/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: replay/R1/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: replay/R1/door } }
      - { name: display, profile: display-mqtt, mqtt: { base: replay/R1/display } }
    scenes:
      meeting: { steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 } ] }
simulation:
  seed: 3
  day: 2025-07-16
  meetings:
    - { id: m-0900, room: R1, start: "09:00", end: "09:30", attendees: 4 }
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
  dir = mkdtempSync(join(tmpdir(), 'roomctl-sim-replay-'));
  writeFileSync(join(dir, 'site.yaml'), CONFIG);
  // 150 min before the start: HVAC from 06:30 at the latest, whatever the room's temperature.
  writeFileSync(join(dir, 'fixed.yaml'), 'name: fixed 150\nhvac_start: { fixed_minutes: 150 }\n');
  writeFileSync(join(dir, 'nobody.yaml'), 'policies:\n  vip: { lead_minutes: { ready: 20 } }\n');
  writeFileSync(join(dir, 'bad.yaml'), 'hvac_start: { fixed_minutes: 500 }\npolicies:\n  standard: { lead_minutes: { ready: -3 }, colour: blue }\n');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('roomctl sim run --days --policy (what-if replay)', () => {
  it('plays consecutive days with the learning carried over, the same days again under the what-if policy, and compares them per day and in total', { timeout: 600_000 }, async () => {
    const run = await roomctl(['sim', 'run', '-c', 'site.yaml', '--days', '2', '--from', '2026-01-13', '--policy', 'fixed.yaml', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r).toMatchObject({ site: 'replay', from: '2026-01-13', days: 2, seed: 3 });
    expect(r.series.map((s: { name: string; hvac: string }) => [s.name, s.hvac])).toEqual([
      ['as configured', 'optimal start'],
      ['fixed 150', 'fixed 150 min pre-start'],
    ]);
    for (const s of r.series) {
      expect(s.days.map((d: { day: string }) => d.day)).toEqual(['2026-01-13', '2026-01-14']);
      expect(s.days.every((d: { meetings: number }) => d.meetings === 1)).toBe(true);
      expect(s.total.meetings).toBe(2);
      expect(s.total.hvacMinutes).toBe(s.days[0].hvacMinutes + s.days[1].hvacMinutes);
      expect(s.reports.map((x: { meetings: { id: string }[] }) => x.meetings.map((m) => m.id))).toEqual([['m-0900'], ['m-0900']]);
    }
    // Optimal start: day 1 starts knowing nothing, day 2 from what day 1 learned about R1 (P5).
    expect(r.series[0].days.map((d: { learnedRoomsAtStart: number }) => d.learnedRoomsAtStart)).toEqual([0, 1]);
    // The fixed pre-start runs the HVAC from 06:30 to the end of the meeting at 09:30, at least.
    for (const d of r.series[1].days) expect(d.hvacMinutes).toBeGreaterThanOrEqual(180);
    const [a, b] = [r.series[0].total, r.series[1].total];
    expect(r.difference).toEqual({
      readyAtReadyCheck: b.readyAtReadyCheck - a.readyAtReadyCheck,
      temperatureInBandAtReadyCheck: b.temperatureInBandAtReadyCheck - a.temperatureInBandAtReadyCheck,
      hvacMinutes: b.hvacMinutes - a.hvacMinutes,
      hvacMinutesRatio: Math.round((b.hvacMinutes / a.hvacMinutes) * 1000) / 1000,
    });
    // Progress on stderr, day by day, for both series.
    expect(run.stderr).toMatch(/\[as configured\] day 2\/2 2026-01-14/);
    expect(run.stderr).toMatch(/\[fixed 150\] day 2\/2 2026-01-14/);
  });

  it('prints the comparison as a table, one row per day and a total', { timeout: 600_000 }, async () => {
    const run = await roomctl(['sim', 'run', '-c', 'site.yaml', '--days', '2', '--from', '2026-01-13']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('replay · 2 days from 2026-01-13 · seed 3 · learning carried from day to day');
    expect(lines.filter((l) => /^2026-01-1[34] +1 /.test(l))).toHaveLength(2);
    expect(lines.some((l) => /^total +2 /.test(l))).toBe(true);
  });

  it('refuses a what-if file with mistakes, naming each, and one that changes no room, naming the policies the rooms run on', { timeout: 60_000 }, async () => {
    const bad = await roomctl(['sim', 'run', '-c', 'site.yaml', '--days', '2', '--policy', 'bad.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bad.yaml: hvac_start.fixed_minutes: at most 180 (the longest pre-conditioning window)');
    expect(bad.stderr).toContain('bad.yaml: policies.standard.lead_minutes.ready:');
    expect(bad.stderr).toContain('bad.yaml: policies.standard: Unrecognized key: "colour"');
    const nobody = await roomctl(['sim', 'run', '-c', 'site.yaml', '--days', '2', '--policy', 'nobody.yaml']);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain("nobody.yaml: policies: changes no room's policy (vip); the rooms run on: standard");
    const zero = await roomctl(['sim', 'run', '-c', 'site.yaml', '--days', '0']);
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toContain('expected a whole number of days from 1 to 366');
  });
});
