import type { Room } from '../config/load.ts';
import type { Engine } from '../engine/engine.ts';

/**
 * The demo table's extra columns (cli/demo-table.ts `extraColumns`): each room's phase,
 * and its current or next meeting with its readiness — `09:30 ready ✓`,
 * `10:40 ✗ temperature_in_band`, `13:30 no-show`. Meeting ids and times only (P15).
 */
/** Columns for the demo table (cli/demo-table.ts extraColumns): the room's phase, its next meeting and readiness. */
export function demoColumns(source: Engine | (() => Engine | undefined)): { title: string; value: (room: Pick<Room, 'id'>) => string }[] {
  // A getter, because the service creates its engine in start(), after the demo table is built.
  const get = typeof source === 'function' ? source : () => source;
  let hhmm: Intl.DateTimeFormat | undefined;
  return [
    { title: 'phase', value: (room) => get()?.phase(room.id) ?? '—' },
    {
      title: 'meeting · readiness',
      value: (room) => {
        const engine = get();
        if (!engine) return '—';
        hhmm ??= new Intl.DateTimeFormat('en-GB', { timeZone: engine.timeZone, hour: '2-digit', minute: '2-digit' });
        const m = engine.focusMeeting(room.id);
        if (!m) return '—';
        const v = engine.verdict(m.id);
        const r = engine.readinessOf(room.id) as { ready: boolean | null; failing: string[]; checks: Record<string, string> };
        // Until the full readiness check (T-15, P4) has run, earlier partial checks (AV, VIP
        // equipment) passing does not make the room ready: show it as pending.
        if (!v && r.ready === true && !('temperature_in_band' in r.checks)) return `${hhmm.format(m.start)} pending`;
        const state = v ? (v.noShow ? 'no-show' : v.readyAtStart ? 'ready ✓' : `not ready: ${v.failingChecks.join(',')}`) : r.ready === null ? 'pending' : r.ready ? 'ready ✓' : `✗ ${r.failing.join(',')}`;
        return `${hhmm.format(m.start)} ${state}`;
      },
    },
  ];
}
