import type { Room, Site } from '../../config/load.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { PointUpdate } from '../../model/points.ts';
import type { StateReader } from './checks.ts';
import type { HvacLedger, ThermalLearner } from '../hvac/optimal-start.ts';

/**
 * What the engine knows about each room between steps, from the room's own point
 * events: its phase (for the demo table and the API), who is there (presence only,
 * P15), how long its HVAC has run (P7/P8 energy), and the thermal history the
 * optimal-start learner needs (P5). It also notices the two things that happen
 * between steps: lights switched on in a closed room, and a door that closes after
 * the room was left open.
 */
export type RoomPhase = 'idle' | 'open' | 'preparing' | 'ready' | 'not_ready' | 'in_session' | 'closing' | 'closed' | 'released';

/** Phases in which nobody expects the lights on: a light switched on then gets the grace period. */
export const QUIET_PHASES: ReadonlySet<RoomPhase> = new Set(['idle', 'closed', 'released']);

interface RoomInfo {
  room: Room;
  phase: RoomPhase;
  phaseMeeting?: string;
  /** The meeting in session (P6), set from its start to its end (or release). */
  inSession?: string;
  /** The meeting whose HVAC pre-conditioning is running (ledger: minutes in band). */
  preparing?: string;
  lastPresentAt?: number;
  hvacOnSince?: number;
  hvacMinutes: number;
  hvacUnitsOn: Set<string>;
}

export interface RoomWatchOptions {
  site: Site;
  state: StateReader;
  bus: EventBus;
  clock: Clock;
  learner: ThermalLearner;
  ledger: HvacLedger;
  /** The comfort band of a room at an instant (season from the site calendar). */
  band: (room: Room, ts: number) => [number, number];
  onLightsOnWhileQuiet?: (room: string) => void;
  onDoorClosed?: (room: string) => void;
}

const kindOf = (room: Room, kind: string) => room.devices.filter((d) => d.profile.kind === kind);

export class RoomWatch {
  private rooms = new Map<string, RoomInfo>();
  private off?: () => void;

  constructor(private options: RoomWatchOptions) {
    for (const room of options.site.rooms) this.rooms.set(room.id, { room, phase: 'idle', hvacMinutes: 0, hvacUnitsOn: new Set() });
  }

  start(): void {
    this.off = this.options.bus.on('point', (e) => this.onPoint(e));
  }

  stop(): void {
    this.off?.();
    this.off = undefined;
  }

  phase(room: string): RoomPhase {
    const r = this.rooms.get(room);
    if (!r) return 'idle';
    return r.inSession ? 'in_session' : r.phase;
  }

  /** The meeting the phase is about, if any. */
  phaseMeeting(room: string): string | undefined {
    const r = this.rooms.get(room);
    return r?.inSession ?? r?.phaseMeeting;
  }

  setPhase(room: string, phase: RoomPhase, meetingId?: string): void {
    const r = this.rooms.get(room);
    if (!r) return;
    this.announce(room, () => {
      r.phase = phase;
      r.phaseMeeting = meetingId;
    });
  }

  startSession(room: string, meetingId: string): void {
    const r = this.rooms.get(room);
    if (r) this.announce(room, () => (r.inSession = meetingId));
  }

  endSession(room: string, meetingId: string): void {
    const r = this.rooms.get(room);
    if (r?.inSession === meetingId) this.announce(room, () => (r.inSession = undefined));
  }

  /** Applies a change and puts the room's new phase on the bus if it changed (MQTT out, the live socket follow it). */
  private announce(room: string, change: () => void): void {
    const before = `${this.phase(room)}/${this.phaseMeeting(room) ?? ''}`;
    change();
    const phase = this.phase(room);
    const meetingId = this.phaseMeeting(room);
    if (`${phase}/${meetingId ?? ''}` !== before) this.options.bus.emit('phase', { room, phase, ...(meetingId ? { meetingId } : {}), ts: this.options.clock.now() });
  }

  preparing(room: string): string | undefined {
    return this.rooms.get(room)?.preparing;
  }

  setPreparing(room: string, meetingId: string | undefined): void {
    const r = this.rooms.get(room);
    if (r) r.preparing = meetingId;
  }

  /** Presence from the room's occupancy sensors: unknown unless a sensor reading is good. */
  occupancy(room: string): { known: boolean; present: boolean; lastPresentAt?: number } {
    const r = this.rooms.get(room);
    if (!r) return { known: false, present: false };
    const s = this.options.state;
    let known = false;
    let present = false;
    for (const d of kindOf(r.room, 'occupancy')) {
      const p = s.get(room, `${d.name}.present`);
      const c = s.get(room, `${d.name}.count`);
      if (p?.quality === 'good') {
        known = true;
        if (p.value === true) present = true;
      }
      if (c?.quality === 'good') {
        known = true;
        if (typeof c.value === 'number' && c.value > 0) present = true;
      }
    }
    return { known, present, lastPresentAt: r.lastPresentAt };
  }

  hasOccupancySensor(room: string): boolean {
    const r = this.rooms.get(room);
    return !!r && kindOf(r.room, 'occupancy').length > 0;
  }

  /** Was anyone there at or after `since`? undefined when the sensors say nothing. */
  presentSince(room: string, since: number): boolean | undefined {
    const o = this.occupancy(room);
    if (o.present) return true;
    if (o.lastPresentAt !== undefined && o.lastPresentAt >= since) return true;
    return o.known ? false : undefined;
  }

  /** Has nobody been present for `ms`? undefined when the sensors say nothing. */
  vacantFor(room: string, ms: number): boolean | undefined {
    const o = this.occupancy(room);
    if (!o.known) return undefined;
    if (o.present) return false;
    return o.lastPresentAt === undefined || this.options.clock.now() - o.lastPresentAt >= ms;
  }

  /** Minutes any HVAC unit of the room (or of every room) ran, as the units reported their power. */
  hvacMinutes(room?: string): number {
    const now = this.options.clock.now();
    let total = 0;
    for (const r of this.rooms.values()) {
      if (room !== undefined && r.room.id !== room) continue;
      total += r.hvacMinutes + (r.hvacOnSince !== undefined ? (now - r.hvacOnSince) / 60_000 : 0);
    }
    return Math.round(total * 10) / 10;
  }

  /**
   * P5: a reading for the learner from every room whose HVAC runs. Point events come
   * only when a value changes, so a room holding steady would teach nothing about how
   * its rate falls off near the setpoint; the engine calls this every few minutes.
   */
  sampleLearner(): void {
    const now = this.options.clock.now();
    for (const r of this.rooms.values()) {
      if (r.hvacUnitsOn.size === 0) continue;
      const first = kindOf(r.room, 'hvac')[0];
      const t = first && this.options.state.get(r.room.id, `${first.name}.temperature`);
      if (t?.quality === 'good' && typeof t.value === 'number') this.temperature(r, first!.name, t.value, now);
    }
  }

  private onPoint(e: PointUpdate): void {
    const r = this.rooms.get(e.room);
    if (!r) return;
    const device = r.room.devices.find((d) => d.name === e.device);
    if (!device) return;
    const key = e.point.slice(device.name.length + 1);
    const good = e.quality === 'good';
    switch (device.profile.kind) {
      case 'occupancy':
        // The moment people were last seen: every reading that shows them, and the one that shows them gone.
        if (good && (key === 'present' || key === 'count')) {
          const here = key === 'present' ? e.value === true : typeof e.value === 'number' && e.value > 0;
          const was = key === 'present' ? e.previous.value === true : typeof e.previous.value === 'number' && e.previous.value > 0;
          if (here || was) r.lastPresentAt = e.ts;
        }
        break;
      case 'hvac':
        if (key === 'power' && good) this.hvacPower(r, device.name, e.value === true, e.ts);
        if (key === 'temperature' && good && typeof e.value === 'number') this.temperature(r, device.name, e.value, e.ts);
        break;
      case 'lighting':
        if (good && key.endsWith('.on') && e.value === true && QUIET_PHASES.has(this.phase(r.room.id))) this.options.onLightsOnWhileQuiet?.(r.room.id);
        break;
      case 'door':
        if (good && key === 'contact' && e.value === 'closed' && e.previous.value !== 'closed') this.options.onDoorClosed?.(r.room.id);
        break;
    }
  }

  private hvacPower(r: RoomInfo, unit: string, on: boolean, ts: number): void {
    if (on) r.hvacUnitsOn.add(unit);
    else r.hvacUnitsOn.delete(unit);
    if (r.hvacUnitsOn.size > 0 && r.hvacOnSince === undefined) r.hvacOnSince = ts;
    if (r.hvacUnitsOn.size === 0 && r.hvacOnSince !== undefined) {
      r.hvacMinutes += Math.max(0, ts - r.hvacOnSince) / 60_000;
      r.hvacOnSince = undefined;
    }
  }

  /** P5: the first unit's readings teach the room's heating/cooling rates; they also feed the meeting's "in band" record. */
  private temperature(r: RoomInfo, unit: string, value: number, ts: number): void {
    const first = kindOf(r.room, 'hvac')[0];
    if (first?.name !== unit) return;
    const s = this.options.state;
    const power = s.get(r.room.id, `${unit}.power`);
    const mode = s.get(r.room.id, `${unit}.mode`);
    this.options.learner.observe(r.room.id, {
      ts,
      temperature: value,
      hvacOn: power?.quality === 'good' && power.value === true,
      ...(mode?.quality === 'good' && typeof mode.value === 'string' ? { mode: mode.value } : {}),
    });
    if (r.preparing) {
      const [lo, hi] = this.options.band(r.room, ts);
      this.options.ledger.temperature(r.preparing, ts, value >= lo && value <= hi);
    }
  }
}
