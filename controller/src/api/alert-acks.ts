import { z } from 'zod';
import { readJsonWithBackup, writeJsonAtomic } from '../engine/timeline/atomic-file.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { AlertEvent } from '../model/events.ts';
import { ROLES, type Role } from './roles.ts';

/**
 * Acknowledgements of active alerts ("I have seen it, I am on my way"): who (token id
 * and role) and when, with an optional note. An acknowledgement belongs to one raising
 * of an alert: the alert book reuses an id when the same check fails again later, so
 * the ack is keyed by id and the raise time, and forgotten once the alert clears.
 * Kept in `<dataDir>/alert-acks.json` (atomic writes) so a restart keeps them.
 */
export interface Ack {
  by: string;
  role: Role;
  at: number;
  note?: string;
}

const stored = z.object({
  version: z.literal(1),
  acks: z.array(z.object({ id: z.string(), raisedAt: z.number(), by: z.string(), role: z.enum(ROLES), at: z.number(), note: z.string().optional() })),
});

export class AlertAcks {
  private acks = new Map<string, Ack & { raisedAt: number }>();
  private log: Logger;

  constructor(
    private file: string | undefined,
    logger: Logger = silentLogger,
  ) {
    this.log = logger;
  }

  load(): void {
    if (!this.file) return;
    const read = readJsonWithBackup(this.file, (json) => stored.parse(json));
    for (const p of read.problems) this.log.warn({ file: this.file }, `alert acks: ${p}`);
    for (const a of read.value?.acks ?? []) {
      const { id, ...rest } = a;
      this.acks.set(id, rest);
    }
  }

  /** The ack of this raising of the alert, if any. */
  of(alert: Pick<AlertEvent, 'id' | 'ts'>): Ack | null {
    const a = this.acks.get(alert.id);
    if (!a || a.raisedAt !== alert.ts) return null;
    const { raisedAt: _r, ...ack } = a;
    return ack;
  }

  acknowledge(alert: Pick<AlertEvent, 'id' | 'ts'>, ack: Ack): Ack {
    this.acks.set(alert.id, { ...ack, raisedAt: alert.ts });
    this.save();
    return ack;
  }

  /** Drops acks of alerts that are no longer active (cleared, or raised anew). */
  prune(active: readonly Pick<AlertEvent, 'id' | 'ts'>[]): void {
    const live = new Map(active.map((a) => [a.id, a.ts]));
    let changed = false;
    for (const [id, a] of this.acks)
      if (live.get(id) !== a.raisedAt) {
        this.acks.delete(id);
        changed = true;
      }
    if (changed) this.save();
  }

  private save(): void {
    if (!this.file) return;
    try {
      writeJsonAtomic(this.file, { version: 1, acks: [...this.acks].map(([id, a]) => ({ id, ...a })) });
    } catch (err) {
      this.log.error({ err, file: this.file }, 'alert acks: could not save');
    }
  }
}
