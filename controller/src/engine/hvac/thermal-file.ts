import type { Logger } from '../../log.ts';
import type { Clock } from '../../model/clock.ts';
import { readJsonWithBackup, writeJsonAtomic } from '../timeline/atomic-file.ts';
import type { ThermalLearner, ThermalSnapshot } from './optimal-start.ts';

/**
 * The optimal-start learner's history (P5) in `<dataDir>/thermal.json`, so a restarted
 * controller — or tomorrow's — starts each room's HVAC from what it learned, not from the
 * cold-start lead again. Written atomically (atomic-file.ts), only when something new was
 * learned.
 *
 * Version 2 keeps the samples per room and season (`rooms.<room>.<season>.heat|cool`), and
 * the room's recorded approaches (`approaches`: predicted vs taken pull-downs, its lead
 * fraction; a file without them just has none recorded yet). A
 * version 1 file (per room only, from before per-season learning) is not used: its samples
 * cannot be told apart by season, and a winter heating rate must not come from summer's
 * data. Each room is then learned again (cold-start lead until it is), and the log says so.
 * The file names its site: a second site with the same room ids pointed at the same folder
 * does not inherit another building's rates (the file is then not used, and the log says so).
 */
const VERSION = 2;

export class ThermalFile {
  private saved?: string;

  constructor(
    private learner: ThermalLearner,
    private site: string,
    private file: string,
    private clock: Clock,
    private log: Logger,
  ) {}

  load(): void {
    const read = readJsonWithBackup(this.file, (json) => json as { version?: number; site?: string; rooms?: ThermalSnapshot }, () => this.clock.now());
    const value = read.value;
    const sameSite = value?.site === undefined || value.site === this.site;
    if (!sameSite) this.log.warn({ file: this.file, site: value?.site }, `thermal history of site ${value?.site}, not ${this.site}: not used, each room is learned again`);
    else if (value?.version === VERSION && value.rooms && typeof value.rooms === 'object') this.learner.restore(value.rooms);
    else if (value?.rooms) this.log.warn({ file: this.file, version: value.version }, 'thermal history from before per-season learning: not used, each room is learned again');
    this.saved = JSON.stringify(this.learner.snapshot());
    for (const p of read.problems) this.log.warn({ file: this.file }, `thermal history: ${p}`);
  }

  save(): void {
    const rooms = this.learner.snapshot();
    const text = JSON.stringify(rooms);
    if (text === this.saved || Object.keys(rooms).length === 0) return;
    this.saved = text;
    try {
      writeJsonAtomic(this.file, { version: VERSION, site: this.site, rooms });
    } catch (err) {
      this.log.warn({ err, file: this.file }, 'could not save the thermal history');
    }
  }
}
