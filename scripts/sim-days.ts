/**
 * `npm run sim:days` — roomctl's promise checked on whole simulated days: every meeting
 * booked at least its lead time ahead is ready at T-15 and at the start when nothing is
 * wrong, and every fault is alerted before the meeting it threatens.
 *
 * Plays `roomctl sim run --json` (controller and devices started together, as on site)
 * for each seed on the demo's summer day and on a January day, with no fault and with
 * config/demo-faults.yaml (every fault kind the simulator has), two runs at a time
 * (the reference machine has two cores), and checks:
 *   fault-free: each meeting booked on time (not P13-late) is ready at T-15 and at the
 *     start (a no-show counts as a ready room);
 *   faults: each fault is alerted after it happens and before the start of the next
 *     meeting in its room, on the check or device it breaks; that alert is not cleared
 *     while the fault lasts; every clear carries its reason.
 * Prints a table and exits 1 if any promise is broken.
 *
 *   npm run sim:days -- [--seeds 1,2,3] [--days 2025-07-16,2026-01-14] [--faults-only|--no-faults] [--parallel 2] [--out DIR] [--check-only]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { SimRunReport } from '../controller/src/cli/sim-play.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1,2,3' },
    days: { type: 'string', default: '2025-07-16,2026-01-14' },
    'faults-only': { type: 'boolean', default: false },
    'no-faults': { type: 'boolean', default: false },
    parallel: { type: 'string', default: '2' },
    /** Check the reports already in --out without playing the days again. */
    'check-only': { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, '.roomctl', 'sim-days') },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  // The options were parsed (strictly: an unknown one is an error) before this usage is printed.
  console.log('usage: npm run sim:days -- [--seeds 1,2,3] [--days 2025-07-16,2026-01-14] [--faults-only|--no-faults] [--parallel 2] [--out DIR] [--check-only]');
  process.exit(0);
}

const FAULTS_FILE = join(ROOT, 'config', 'demo-faults.yaml');
/** The checks (or the device alert) each fault kind must show up as. */
const EXPECTED: Record<string, string[]> = {
  dead_mic: ['mic_test'],
  low_mic_battery: ['mic_test'],
  fcu_ignores_setpoint: ['temperature_in_band'],
  fcu_offline: ['devices_online'],
  lights_stuck_on: ['lights_off'],
  door_left_open: ['door_closed'],
  display_no_power: ['display_on'],
  sensor_garbage: ['co2_below_max'],
  window_left_open: ['window_closed'],
  device_offline: ['devices_online'],
  device_reboot: ['devices_online'],
};

interface Run {
  day: string;
  seed: number;
  faults: boolean;
  file: string;
}

const runs: Run[] = [];
for (const day of values.days!.split(','))
  for (const seed of values.seeds!.split(',').map(Number))
    for (const faults of [false, true]) {
      if (faults && values['no-faults']) continue;
      if (!faults && values['faults-only']) continue;
      runs.push({ day, seed, faults, file: join(values.out!, `${day}-seed${seed}${faults ? '-faults' : ''}.json`) });
    }
mkdirSync(values.out!, { recursive: true });

function play(run: Run): Promise<void> {
  const args = ['bin/roomctl.js', 'sim', 'run', '--config', 'config/demo.yaml', '--day', run.day, '--seed', String(run.seed), '--json', ...(run.faults ? ['--faults', FAULTS_FILE] : [])];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ROOMCTL_LOG_LEVEL: 'error' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => {
      if (code !== 0) return fail(new Error(`sim run ${args.slice(3).join(' ')} exited ${code}`));
      writeFileSync(run.file, out);
      done();
    });
  });
}

async function playAll(): Promise<void> {
  const queue = [...runs];
  const workers = Array.from({ length: Math.max(1, Number(values.parallel)) }, async () => {
    for (let run = queue.shift(); run; run = queue.shift()) {
      const t0 = performance.now();
      await play(run);
      console.error(`sim-days: ${run.day} seed ${run.seed}${run.faults ? ' with faults' : ''} played in ${Math.round((performance.now() - t0) / 1000)} s`);
    }
  });
  await Promise.all(workers);
}

interface Alert {
  id: string;
  room: string;
  check: string;
  state: string;
  at: string;
  message: string;
  reason?: string;
  meetingId?: string;
}

function alertsOf(r: SimRunReport): Alert[] {
  const all = [...r.meetings.flatMap((m) => m.alerts), ...r.rooms.flatMap((x) => x.alerts)] as Alert[];
  return all.sort((a, b) => a.at.localeCompare(b.at));
}

function checkFaultFree(r: SimRunReport): string[] {
  const problems: string[] = [];
  for (const m of r.meetings) {
    const v = m.verdict;
    if (!v) problems.push(`${m.id}: no verdict`);
    else if (v.minutesLate > 0) continue; // P13: booked later than its lead times; reported, not promised
    else if (v.noShow) continue;
    else if (!v.readyAtReadyCheck || !v.readyAtStart) problems.push(`${m.id} (${m.room}): ${v.readyAtReadyCheck ? '' : 'not ready at T-15 '}${v.readyAtStart ? '' : 'not ready at the start '}failing ${v.failingChecks.join(', ')}`);
  }
  return problems;
}

function checkFaults(r: SimRunReport, plan: { room: string; kind: string; at: string; clear_at?: string }[]): string[] {
  const problems: string[] = [];
  const alerts = alertsOf(r);
  for (const f of plan) {
    const kind = f.kind.split(':')[0]!;
    const at = `${f.at}:00`;
    const next = r.meetings.filter((m) => m.room === f.room && m.start > at).sort((a, b) => a.start.localeCompare(b.start))[0];
    if (!next) {
      problems.push(`${f.kind} in ${f.room} at ${f.at}: no meeting after it to threaten`);
      continue;
    }
    const want = EXPECTED[kind] ?? [];
    // Raised after the fault, or already active when it happened (the same fault found earlier).
    const activeAt = (a: Alert) => a.at >= at || !alerts.some((b) => b.id === a.id && b.state === 'cleared' && b.at >= a.at && b.at < at);
    const hit = alerts.find((a) => a.room === f.room && a.state === 'raised' && want.includes(a.check) && a.at < next.start && activeAt(a));
    if (!hit) {
      problems.push(`${f.kind} in ${f.room} at ${f.at}: no ${want.join('/')} alert before ${next.id} at ${next.start}`);
      continue;
    }
    // While the fault lasts and the meeting it threatens is not over, its alert must not clear. (After that a
    // room condition can be true again without the device being mended — a room that cools once HVAC is off.)
    const lasts = kind !== 'device_reboot' && !f.clear_at;
    const clearedEarly = alerts.find((a) => a.id === hit.id && a.state === 'cleared' && a.at > hit.at && a.at < next.end && lasts);
    if (clearedEarly) problems.push(`${f.kind} in ${f.room}: ${hit.id} cleared at ${clearedEarly.at} (${clearedEarly.reason ?? 'no reason'}) while the fault is still there`);
  }
  for (const a of alerts) if (a.state === 'cleared' && !a.reason) problems.push(`${a.id} cleared at ${a.at} without a reason`);
  return problems;
}

const summary = (r: SimRunReport) => r.summary;

if (!values['check-only']) await playAll();
const plan = parseYaml(readFileSync(FAULTS_FILE, 'utf8')) as { room: string; kind: string; at: string; clear_at?: string }[];
let broken = 0;
console.log('| day | seed | faults | meetings | ready T-15 | ready start | in band T-15 | late | no-shows | alerts | HVAC room-min | s | promise |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
const details: string[] = [];
for (const run of runs) {
  const r = JSON.parse(readFileSync(run.file, 'utf8')) as SimRunReport;
  const s = summary(r);
  const problems = run.faults ? checkFaults(r, plan) : checkFaultFree(r);
  broken += problems.length;
  console.log(`| ${run.day} | ${run.seed} | ${run.faults ? 'all kinds' : 'none'} | ${s.meetings} | ${s.readyAtReadyCheck} | ${s.readyAtStart} | ${s.temperatureInBandAtReadyCheck} | ${s.late} | ${s.noShows} | ${s.alertsRaised} | ${s.hvacMinutes} | ${s.realSeconds} | ${problems.length ? `BROKEN (${problems.length})` : 'kept'} |`);
  for (const p of problems) details.push(`${run.day} seed ${run.seed}${run.faults ? ' faults' : ''}: ${p}`);
}
for (const d of details) console.log(`- ${d}`);
process.exit(broken ? 1 : 0);
