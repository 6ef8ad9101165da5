import { join } from 'node:path';
import { SimulatedBuilding } from '../../../devices/sim/building.ts';
import { rmSync } from 'node:fs';
import { meetingsOfDay, simulationOf, simulationProblems } from '../../../devices/sim/meetings.ts';
import { demoDay } from './demo-day.ts';
import { demoColumns } from './demo-columns.ts';
import { bookDay } from './sim-day.ts';
import { createLogger } from '../log.ts';
import { VirtualClock } from '../model/virtual-clock.ts';
import { demoTable } from './demo-table.ts';
import { loadForStart, startCommand, type StartOptions } from './start.ts';
import { claimDemoDir, resolveDataDir } from './data-dir.ts';

import { DEMO_CONFIG } from './demo-config.ts';
export { DEMO_CONFIG };

export interface SimulateOptions extends Pick<StartOptions, 'dataDir' | 'logLevel' | 'apiPort' | 'brokerPort' | 'statusEveryMs'> {
  config?: string;
  speed?: number;
  /** `--day YYYY-MM-DD`: play that day instead of today (demo-day.ts). */
  day?: string;
}

/**
 * `roomctl start --simulate` (and `npm start`): the controller, the embedded broker
 * and the simulated building of the config on one virtual clock running N× real
 * time, with the live room table. Needs no other service installed.
 */
export async function simulateCommand(options: SimulateOptions): Promise<number> {
  const file = options.config ?? DEMO_CONFIG;
  const site = loadForStart(file, createLogger('info'));
  if (!site) return 1;
  const problems = simulationProblems(site);
  if (problems.length > 0) {
    for (const p of problems) console.error(`simulation: ${p}`);
    return 1;
  }
  const played = demoDay(site, options.day);
  if ('error' in played) {
    console.error(`roomctl start --simulate: ${played.error}`);
    return 2;
  }
  const speed = options.speed ?? simulationOf(site).speed;
  const clock = VirtualClock.running(played.start, speed);
  const tty = !!process.stdout.isTTY;
  // The demo replays the same day each run: forget the last run's bookings, steps done,
  // readiness records and alerts, or its steps would not run again. API tokens, the
  // learned thermal rates and the recorder's spool in the data folder are kept. Only in
  // the demo's own folder: one holding a real site's data is refused, never reset.
  const dataDir = resolveDataDir({ flag: options.dataDir, site, configFile: file, demo: true });
  const claim = claimDemoDir(dataDir);
  if (!claim.ok) {
    console.error(`roomctl start --simulate: ${claim.why}`);
    return 1;
  }
  for (const f of ['meetings.json', 'meetings.json.bak', 'readiness.json', 'readiness.json.bak', 'alerts.json', 'alerts.json.bak', 'alert-acks.json']) rmSync(join(dataDir, f), { force: true });
  if (tty) process.stdout.write('\x1b[?25l'); // hide the cursor while the table redraws
  try {
    return await startCommand({
      config: file,
      site,
      clock,
      // On a terminal the table is the show; warnings still print below it.
      defaultLogLevel: tty ? 'warn' : 'info',
      logLevel: options.logLevel,
      apiPort: options.apiPort,
      brokerPort: options.brokerPort,
      statusEveryMs: options.statusEveryMs ?? (tty ? 0 : 60 * 60_000),
      devices: (service, logger, mqttUrl) => {
        const building = new SimulatedBuilding({ site, clock, brokerUrl: mqttUrl, mqttLogin: service.logins?.device, controlPort: simulationOf(site).control_port, logger: logger.child({ part: 'sim' }) });
        return [{ name: 'simulated building', start: () => building.start(), stop: () => building.stop() }];
      },
      dataDir,
      features: (service) => [demoTable(service, { logEveryMs: 30 * 60_000, extraColumns: demoColumns(() => service.engine) })],
      // The meeting system's bookings for the day; an ad-hoc one arrives at its booked_at time (P13).
      afterStart: (service, logger) => {
        logger.info({ day: played.day, season: played.season, timezone: site.config.site.timezone }, played.from === 'today' ? `demo: playing today, ${played.day} (${played.season}); --day YYYY-MM-DD plays another day` : `demo: playing ${played.day} (${played.season}), from --day`);
        bookDay(service.schedule, meetingsOfDay(site, played.day), clock, { rejected: (id, why) => logger.warn(`demo booking ${id} refused: ${why}`) });
      },
    });
  } finally {
    if (tty) process.stdout.write('\x1b[?25h');
  }
}
