import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimDay } from '../../controller/src/cli/sim-day.ts';
import { loadConfigFile, type Site } from '../../controller/src/config/load.ts';
import type { HvacStrategy } from '../../controller/src/engine/engine.ts';

/**
 * Optimal start (P5) against a fixed 60-minute pre-start, on the demo day: the demo
 * building (config/demo.yaml) simulated over real sockets, the real service and engine
 * on virtual time (controller/src/cli/sim-day.ts). The learner first learns each room
 * from the day before (as it would from its own history); both runs of the demo day
 * then start from that same history. Modbus units are polled every 20 s
 * here (readings stay fresh within their 30 s window) to play faster.
 */
const DEMO = resolve(dirname(fileURLToPath(import.meta.url)), '../../config/demo.yaml');
const POLL_MS = 20_000;

interface DayResult {
  inBandAtT15: number;
  readyAtT15: number;
  meetings: number;
  hvacMinutes: number;
  ledgerMinutes: number;
  realSeconds: number;
}

async function play(site: Site, day: string, hvac: HvacStrategy, dataDir: string, until?: string): Promise<DayResult> {
  const wall = performance.now();
  const sim = await SimDay.open({ site, day, dataDir, pollMs: POLL_MS, engine: { hvac } });
  try {
    await sim.advanceTo(until ? sim.at(until) : Math.max(...sim.meetings.map((m) => m.end)) + 30 * 60_000);
    const r = sim.recorder;
    const verdicts = [...r.verdicts.values()];
    return {
      meetings: sim.meetings.length,
      inBandAtT15: sim.meetings.filter((m) => r.outcome(m.id, 'temperature_in_band', 'ready')?.status === 'pass').length,
      readyAtT15: verdicts.filter((v) => v.readyAtReadyCheck).length,
      hvacMinutes: sim.service.engine.hvacMinutes(),
      ledgerMinutes: Math.round(verdicts.reduce((n, v) => n + v.hvacMinutes, 0)),
      realSeconds: Math.round((performance.now() - wall) / 1000),
    };
  } finally {
    await sim.close();
  }
}

function dayBefore(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
}

export async function optimalVsFixed(): Promise<void> {
  const site = loadConfigFile(DEMO).site!;
  const day = site.config.simulation!.day!;
  console.log(`\noptimal start vs fixed 60-minute pre-start — demo day ${day}, ${site.rooms.length} rooms, simulator over real sockets`);
  const history = mkdtempSync(join(tmpdir(), 'roomctl-bench-history-'));
  const dirs: string[] = [history];
  try {
    const train = await play(site, dayBefore(day), { kind: 'optimal' }, history);
    console.log(`  learning: ${dayBefore(day)} played in ${train.realSeconds} s (optimal start from the conservative default: in band at T-15 ${train.inBandAtT15}/${train.meetings}, HVAC ${train.hvacMinutes} min)`);
    const withHistory = () => {
      const dir = mkdtempSync(join(tmpdir(), 'roomctl-bench-day-'));
      dirs.push(dir);
      if (existsSync(join(history, 'thermal.json'))) copyFileSync(join(history, 'thermal.json'), join(dir, 'thermal.json'));
      return dir;
    };
    const optimal = await play(site, day, { kind: 'optimal' }, withHistory());
    const fixed = await play(site, day, { kind: 'fixed', minutesBeforeStart: 60 }, withHistory());
    const line = (name: string, r: DayResult) =>
      `  ${name.padEnd(22)} in band at T-15 ${r.inBandAtT15}/${r.meetings}, ready at T-15 ${r.readyAtT15}/${r.meetings}, HVAC ${r.hvacMinutes} unit-room min (${r.ledgerMinutes} min booked to meetings) — played in ${r.realSeconds} s`;
    console.log(line('optimal start', optimal));
    console.log(line('fixed 60 min pre-start', fixed));
    const saved = fixed.hvacMinutes - optimal.hvacMinutes;
    console.log(`  HVAC minutes saved by optimal start: ${saved.toFixed(0)} (${((saved / fixed.hvacMinutes) * 100).toFixed(1)} % of the fixed pre-start's), in band at T-15: ${optimal.inBandAtT15} vs ${fixed.inBandAtT15}`);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
