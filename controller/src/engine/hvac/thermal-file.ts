import type { Logger } from '../../log.ts';
import type { Clock } from '../../model/clock.ts';
import { readJsonWithBackup, writeJsonAtomic } from '../timeline/atomic-file.ts';
import type { ThermalLearner } from './optimal-start.ts';

/**
 * The optimal-start learner's history (P5) in `<dataDir>/thermal.json`, so a restarted
 * controller — or tomorrow's — starts each room's HVAC from what it learned, not from the
 * conservative default again. Written atomically (atomic-file.ts), only when something new
 * was learned.
 */
export class ThermalFile {
  private saved?: string;

  constructor(
    private learner: ThermalLearner,
    private file: string,
    private clock: Clock,
    private log: Logger,
  ) {}

  load(): void {
    const read = readJsonWithBackup(this.file, (json) => json as { version: 1; rooms: Record<string, { heat?: unknown; cool?: unknown }> }, () => this.clock.now());
    if (read.value?.rooms) this.learner.restore(read.value.rooms);
    this.saved = JSON.stringify(this.learner.snapshot());
    for (const p of read.problems) this.log.warn({ file: this.file }, `thermal history: ${p}`);
  }

  save(): void {
    const rooms = this.learner.snapshot();
    const text = JSON.stringify(rooms);
    if (text === this.saved || Object.values(rooms).every((r) => r.heat.length + r.cool.length === 0)) return;
    this.saved = text;
    try {
      writeJsonAtomic(this.file, { version: 1, rooms });
    } catch (err) {
      this.log.warn({ err, file: this.file }, 'could not save the thermal history');
    }
  }
}
