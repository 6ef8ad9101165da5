/**
 * npm run bench:schedule [-- --rooms N --meetings M --days D --play P --skip-demo | --demo-only] [--day YYYY-MM-DD ...] [--fixed 60,120|none] [--learn-days 1]
 * (defaults 10000 rooms, 100000 meetings over 30 days, the first 3 played in full;
 * --skip-demo: only part 1 (part 2 takes ~40 minutes); --demo-only: only part 2; --day: the days of part 2, repeatable; --learn-days: the days
 * of learning before each, default 1)
 *
 * Part 1 — scale. N rooms and M meetings over a month, on a stepped virtual clock:
 *   - booking the month (Schedule.batch: one validation per booking, one index insert);
 *   - the engine at work (timeline, checks, proven writes, scenes, alerts, records, the
 *     daily routines) against a stand-in building that answers at once, P days played:
 *     engine CPU time per simulated day, peak RSS;
 *   - the timer structure: finding the steps due, one heap for every meeting (the
 *     timeline's DueQueue) vs a naive tick that scans every step of every meeting, both
 *     at the same instants (a tick every 5 virtual minutes), in this run. Ratio = naive /
 *     heap. Also the whole Timeline's cost per tick over the month.
 * Part 2 — optimal start (P5) on a summer demo day (config/demo.yaml simulation.day) and a
 * winter one (a January working day), the demo building with the simulator over real
 * sockets: the learner trained by the day before, then the day played with optimal start
 * and with fixed 60- and 120-minute pre-starts: meetings in band at T-15 and HVAC
 * room-minutes of each, and the goal as ratios with met/missed (see lib/optimal-day.ts).
 */
import { EventBus } from '../controller/src/model/bus.ts';
import { RoomStateStore } from '../controller/src/model/room-state.ts';
import { VirtualClock } from '../controller/src/model/virtual-clock.ts';
import { Engine } from '../controller/src/engine/engine.ts';
import { Schedule } from '../controller/src/engine/timeline/schedule.ts';
import { planMeeting } from '../controller/src/engine/intent/steps.ts';
import { Timeline } from '../controller/src/engine/timeline/timeline.ts';
import { DueQueue } from '../controller/src/engine/timeline/due-queue.ts';
import type { Meeting } from '../controller/src/model/meetings.ts';
import { BENCH_TZ, bigSite, EchoBuilding, monthOfMeetings } from './lib/month.ts';
import { optimalVsFixed } from './lib/optimal-day.ts';
import { zonedEpoch } from '../controller/src/engine/jobs/routines.ts';
import { targetLine } from './lib/target.ts';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const n = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number`);
  return n;
}
const ROOMS = option('rooms', 10_000);
const MEETINGS = option('meetings', 100_000);
const DAYS = option('days', 30);
const PLAY = Math.min(option('play', 3), DAYS);
const DAY = 86_400_000;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const rssMb = () => process.resourceUsage().maxRSS / 1024;
const turn = () => new Promise<void>((r) => setImmediate(r));

const demoDays = process.argv.flatMap((a, i) => (a === '--day' && process.argv[i + 1] ? [process.argv[i + 1]!] : []));
for (const d of demoDays) if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) throw new Error(`--day must be YYYY-MM-DD, got ${d}`);
const monthStart = zonedEpoch(2025, 9, 1, 0, 0, BENCH_TZ); // a Monday
const fixedArg = process.argv.indexOf('--fixed');
// --fixed 60,120 (default) or --fixed none: only the learning day and optimal start.
const fixedMinutes = fixedArg < 0 ? undefined : process.argv[fixedArg + 1] === 'none' ? [] : (process.argv[fixedArg + 1] ?? '').split(',').map(Number);
if (fixedMinutes?.some((m) => !Number.isInteger(m) || m < 1)) throw new Error('--fixed must be minutes such as 60,120, or none');
const learnDays = process.argv.includes('--learn-days') ? option('learn-days', 1) : 1;
if (process.argv.includes('--demo-only')) {
  await optimalVsFixed({ days: demoDays, fixedMinutes, learnDays });
  process.exit(0);
}
console.log(`bench:schedule — ${fmt(ROOMS)} rooms, ${fmt(MEETINGS)} meetings over ${DAYS} days (${PLAY} played in full)`);

// ---- booking the month
let t = performance.now();
const site = bigSite(ROOMS);
const requests = monthOfMeetings(site, MEETINGS, monthStart, DAYS);
console.log(`  site and month generated in ${fmt((performance.now() - t) / 1000, 1)} s (${fmt(site.rooms.reduce((n, r) => n + r.devices.reduce((k, d) => k + d.points.length, 0), 0))} points), RSS peak ${fmt(rssMb())} MB`);
const clock = VirtualClock.stepped(monthStart - 3600_000);
const schedule = new Schedule({ clock, rooms: site.rooms.map((r) => r.id) });
t = performance.now();
schedule.batch(() => {
  for (const r of requests) schedule.upsert(r);
});
const bookMs = performance.now() - t;
console.log(`  booked ${fmt(schedule.meetings().length)} meetings in ${fmt(bookMs / 1000, 2)} s (${fmt((bookMs * 1000) / requests.length, 1)} µs each: validation + overlap check + index)`);

// ---- the engine at work
const bus = new EventBus((event, err) => console.error(`listener failed on ${event}:`, err));
const store = new RoomStateStore(site, bus, clock); // no staleness sweep: the stand-in building is always fresh
const building = new EchoBuilding(site, store);
const engine = new Engine({ site, state: store, writer: building, bus, clock, schedule });
let checks = 0;
const verdictOf = new Map<string, boolean>(); // meeting → ready at T-15 (a verdict is sent at the start and updated at the end)
bus.on('check', () => checks++);
bus.on('verdict', (v) => verdictOf.set(v.meetingId, v.readyAtReadyCheck));
const verdicts = () => verdictOf.size;
const ready = () => [...verdictOf.values()].filter(Boolean).length;
t = performance.now();
let cpu = cpuMs();
engine.start();
console.log(`  engine started in ${fmt(performance.now() - t)} ms (CPU ${fmt(cpuMs() - cpu)} ms); timeline queue ${fmt(engine.timeline.stats.queued)} entries; RSS peak ${fmt(rssMb())} MB`);
const perDay: number[] = [];
let batches = 0;
const settle = async () => {
  batches++;
  await turn();
};
for (let d = 0; d < PLAY; d++) {
  cpu = cpuMs();
  const wall = performance.now();
  await clock.advanceTo(monthStart + (d + 1) * DAY, settle);
  perDay.push(cpuMs() - cpu);
  const weekday = new Date(monthStart + d * DAY + 8 * 3600_000).getUTCDay();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const live = gc ? `, live heap after GC ${fmt(process.memoryUsage().heapUsed / 1024 / 1024)} MB` : '';
  console.log(`  day ${d + 1} (${['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][weekday]}): engine CPU ${fmt(perDay.at(-1)! / 1000, 2)} s, wall ${fmt((performance.now() - wall) / 1000, 2)} s, ${fmt(verdicts())} meetings with a verdict so far, RSS peak ${fmt(rssMb())} MB${live}`);
}
const stats = engine.timeline.stats;
const workdays = perDay.filter((_, d) => ![0, 6].includes(new Date(monthStart + d * DAY + 8 * 3600_000).getUTCDay()));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
console.log(`  engine CPU per simulated working day: mean ${fmt(mean(workdays) / 1000, 2)} s, max ${fmt(Math.max(...workdays) / 1000, 2)} s (${fmt(verdicts())} meetings with a verdict, ${fmt(ready())} of them ready at T-15, ${fmt(checks)} check outcomes, ${fmt(batches)} timer batches)`);
console.log(`  timeline: ${fmt(stats.ticks)} ticks, ${fmt(stats.popped)} steps run, ${fmt(stats.examined)} entries examined, ${fmt(stats.siftMoves)} heap moves`);
const peakAfterDays = rssMb();
console.log(`  peak RSS ${fmt(peakAfterDays)} MB`);
await engine.stop();

// ---- tick cost: the timeline's heap vs a naive scan of every meeting, at the same instants
// First the real Timeline over the whole month with a runner that does nothing (planning,
// placeholders and the "done" bookkeeping included), recording the instants it ticked at.
const tickClock = VirtualClock.stepped(monthStart - 3600_000);
const tickSchedule = new Schedule({ clock: tickClock, rooms: site.rooms.map((r) => r.id) });
tickSchedule.batch(() => {
  for (const r of requests) tickSchedule.upsert(r);
});
const timeline = new Timeline({ schedule: tickSchedule, rooms: site.rooms, clock: tickClock, run: () => {} });
cpu = cpuMs();
timeline.start();
await tickClock.advanceTo(monthStart + DAYS * DAY);
const timelineCpu = cpuMs() - cpu;
const timelineTicks = timeline.stats.ticks;
await timeline.stop();
// Then the selection alone, both ways, over every planned step of every meeting, at the same sampled instants.
const roomsById = new Map(site.rooms.map((r) => [r.id, r]));
const plans = tickSchedule.meetings().map((m: Meeting) => planMeeting(m, roomsById.get(m.room)!, { now: monthStart - 3600_000 }).steps);
const due = new Float64Array(plans.reduce((n, s) => n + s.length, 0));
let k = 0;
for (const steps of plans) for (const s of steps) due[k++] = s.due;
// A timer wheel that does not know when the next step is due must tick at a fixed cadence:
// every 5 virtual minutes of the month here, the same instants for both.
const sample: number[] = [];
for (let t = monthStart; t < monthStart + DAYS * DAY; t += 5 * 60_000) sample.push(t);
const heap = new DueQueue<number>(tickClock, () => {});
for (let i = 0; i < due.length; i++) heap.schedule(String(i), due[i]!, i);
let popped = 0;
cpu = cpuMs();
for (const now of sample) popped += heap.runDue(now);
const heapCpu = cpuMs() - cpu;
const done = new Uint8Array(due.length);
let found = 0;
cpu = cpuMs();
for (const now of sample) {
  for (let i = 0; i < due.length; i++) {
    if (done[i] === 0 && due[i]! <= now) {
      done[i] = 1;
      found++;
    }
  }
}
const naiveCpu = cpuMs() - cpu;
const heapPerTick = heapCpu / sample.length;
const naivePerTick = naiveCpu / sample.length;
console.log(`  tick cost (finding what is due), a tick every 5 virtual minutes for ${DAYS} days (${fmt(sample.length)} ticks), ${fmt(due.length)} steps of ${fmt(plans.length)} meetings:`);
console.log(`    one heap for every meeting: ${fmt(heapPerTick * 1000, 2)} µs/tick (${fmt(popped)} steps popped, ${fmt((heapCpu * 1000) / Math.max(1, popped), 2)} µs per step due)`);
console.log(`    naive scan of every step:   ${fmt(naivePerTick * 1000, 1)} µs/tick (${fmt(found)} steps found)`);
console.log(`    ratio naive / heap = ${fmt(naivePerTick / heapPerTick, 0)}×`);
console.log(`  the whole Timeline over the month (planning, placeholders, done-bookkeeping, no-op steps): ${fmt((timelineCpu / timelineTicks) * 1000, 1)} µs/tick over ${fmt(timelineTicks)} ticks`);

// Issue 14: the peak while the engine played the days (the figure beside it: 10,000 rooms, 100,000 meetings, 3 days).
const reference = ROOMS === 10_000 && MEETINGS === 100_000 && PLAY === 3;
console.log(`  ${targetLine(`peak RSS, ${fmt(ROOMS)} rooms and ${fmt(MEETINGS)} meetings, ${PLAY} days played`, peakAfterDays, '<=', 800, 'MB', { was: reference ? 1730 : undefined })}`);

if (!process.argv.includes('--skip-demo')) await optimalVsFixed({ days: demoDays, fixedMinutes, learnDays });
