import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Site } from '../config/load.ts';
import type { EngineSettings } from '../engine/engine.ts';
import { isRoomctlError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { ResolvedDevice } from '../model/devices.ts';
import type { Clock } from '../model/clock.ts';
import type { Schedule } from '../engine/timeline/schedule.ts';
import { VirtualClock } from '../model/virtual-clock.ts';
import { MAX_PRECONDITION_MINUTES } from '../engine/hvac/optimal-start.ts';
import { minutesOfDay } from '../config/simulation-schema.ts';
import { RoomctlService } from '../service.ts';
import { SimulatedBuilding } from '../../../devices/sim/building.ts';
import { deliveryWatch, freePort, quietSettle } from '../../../devices/sim/harness.ts';
import { localToEpoch } from '../../../devices/sim/local-time.ts';
import { meetingsOfDay, simulationOf, simulationStart, type SimMeeting } from '../../../devices/sim/meetings.ts';
import { DayRecorder } from './day-recorder.ts';

/**
 * One simulated day, played as fast as the machine allows: the real service (embedded
 * broker on a free port, MQTT and Modbus adapters, room state, schedule, readiness
 * engine) beside the simulated building (its Modbus gateways moved to free ports), on
 * one stepped VirtualClock. Between timer batches network I/O is let settle, so every
 * reply is stamped with the instant that caused it. The day's meetings go into the
 * schedule at the start — an ad-hoc one (booked_at) only at its booking time (P13) — and
 * faults are injected at their local times. `roomctl sim run`, the engine-day tests and
 * the schedule bench all play days this way.
 */
export interface FaultPlan {
  room: string;
  /** A fault kind, with an optional target: `dead_mic:2`. */
  kind: string;
  /** Local time on the day, HH:MM. */
  at: string;
  clear_at?: string;
}

export interface SimDayOptions {
  site: Site;
  /** The simulated day (YYYY-MM-DD); default simulation.day. */
  day?: string;
  /**
   * Local time the day starts; default simulation.start. `overnight`: no later than the
   * first meeting's pre-conditioning window (overnightStart), as `roomctl sim run` plays.
   */
  start?: string | 'overnight';
  seed?: number;
  faults?: FaultPlan[];
  /** Default: a temporary directory, removed by close(). */
  dataDir?: string;
  engine?: Partial<EngineSettings>;
  /** Overrides every Modbus unit's poll interval (a faster play; readings within 30 s stay fresh). */
  pollMs?: number;
  /** Leave the meetings out of the schedule (a test books its own). */
  noMeetings?: boolean;
  /**
   * Start the controller and the building together, as on site: the meetings are booked
   * and open() returns as soon as the service has started, with no settle in between,
   * so the engine's first timers fire (on the first advance) before the first Modbus
   * poll has been answered or the devices' retained state has been taken in. `roomctl
   * sim run` plays this way. Default false: open() lets the I/O settle first, and the
   * engine starts from a building it has already read.
   */
  startTogether?: boolean;
  /** The embedded broker without Nagle: the day plays several times faster (`sim run`; see EmbeddedBrokerOptions.noDelay). */
  brokerNoDelay?: boolean;
  logger?: Logger;
}

export class SimDay {
  readonly recorder: DayRecorder;
  readonly meetings: SimMeeting[];
  private settle: () => Promise<void> = async () => {};
  private tempDir?: string;
  private closed = false;
  sim!: SimulatedBuilding;

  private constructor(
    readonly site: Site,
    readonly clock: VirtualClock,
    readonly service: RoomctlService,
    private options: SimDayOptions,
  ) {
    this.meetings = meetingsOfDay(site);
    this.recorder = new DayRecorder(service.bus, site, clock);
  }

  /**
   * Builds and starts everything at the day's start time; nothing has moved yet. The
   * building and the engine start at the same virtual instant (the stepped clock stands
   * still through service.start(): the building primes and publishes at that instant,
   * the adapters connect, the engine arms its timers). Without `startTogether` the
   * network then settles before the meetings are booked.
   */
  static async open(options: SimDayOptions): Promise<SimDay> {
    const site = await playableSite(options);
    const clock = VirtualClock.stepped(simulationStart(site));
    const tempDir = options.dataDir ? undefined : mkdtempSync(join(tmpdir(), 'roomctl-sim-day-'));
    // No HTTP API: a simulated day needs none, and two runs must not compete for its port.
    const service = new RoomctlService({ site, logger: options.logger ?? silentLogger, clock, dataDir: options.dataDir ?? tempDir, engine: options.engine, api: { enabled: false }, brokerNoDelay: options.brokerNoDelay });
    const day = new SimDay(site, clock, service, options);
    day.tempDir = tempDir;
    try {
      await service.start([], (url, logins) => {
        day.sim = new SimulatedBuilding({ site, clock, brokerUrl: url, mqttLogin: logins?.device, seed: options.seed, logger: options.logger });
        return [{ name: 'simulated building', start: () => day.sim.start(), stop: () => day.sim.stop() }];
      });
    } catch (err) {
      await day.close();
      throw err;
    }
    let busEvents = 0;
    for (const e of ['point', 'device', 'command', 'check', 'activity', 'alert'] as const) service.bus.on(e, () => busEvents++);
    // A settle that gives up (10 s of real time) means something is counted in flight that never lands — on
    // a starved machine, or a simulator or adapter bug; say so (the settle then stops waiting for it).
    let giveUps = 0;
    const log = options.logger ?? silentLogger;
    const onGiveUp = (pending: number) => {
      if (giveUps++ < 3) log.warn({ pending, at: new Date(clock.now()).toISOString() }, `sim day: network I/O did not settle within 10 s (${pending} in flight)${giveUps === 3 ? '; not logged again' : ''}`);
    };
    day.settle = quietSettle([day.sim, deliveryWatch(day.sim, service.mqtt, service.modbus), () => busEvents], { onGiveUp });
    if (!options.startTogether) await day.settle();
    for (const f of options.faults ?? []) day.planFault(f);
    if (!options.noMeetings) day.book();
    return day;
  }

  /** Epoch ms of a local time on the simulated day. */
  at(hhmm: string): number {
    return localToEpoch(simulationOf(this.site).day!, hhmm, this.site.config.site.timezone);
  }

  /** Moves virtual time forward to `ts` (local `HH:MM` or epoch ms), settling I/O after each timer batch. */
  async advanceTo(ts: number | string): Promise<void> {
    await this.clock.advanceTo(typeof ts === 'string' ? this.at(ts) : ts, this.settle);
  }

  async advance(ms: number): Promise<void> {
    await this.clock.advance(ms, this.settle);
  }

  /** Lets network I/O run until quiet without moving time. */
  async quiet(): Promise<void> {
    await this.settle();
  }

  /** When the day is over: the end-of-day sweep has run and the last meeting is long closed. */
  endOfDay(): number {
    const sweep = this.at(this.site.config.site.routines.end_of_day) + 15 * 60_000;
    const lastEnd = Math.max(0, ...this.meetings.map((m) => m.end)) + 90 * 60_000;
    return Math.max(sweep, lastEnd);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.service.stop();
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }

  /** The day's meetings into the schedule: known ones now, ad-hoc ones at their booking time (P13). */
  private book(): void {
    bookDay(this.service.schedule, this.meetings, this.clock, {
      booked: (id) => this.recorder.booked(id, this.clock.now()),
      rejected: (id, why) => this.recorder.rejected(id, why),
    });
  }

  private planFault(f: FaultPlan): void {
    const now = this.clock.now();
    const inject = (clear: boolean) => {
      try {
        this.sim.injectFault(f.room, f.kind, clear);
        this.recorder.fault(f, clear, this.clock.now());
      } catch (err) {
        this.recorder.fault(f, clear, this.clock.now(), (err as Error).message);
      }
    };
    this.clock.setTimeout(() => inject(false), Math.max(0, this.at(f.at) - now));
    if (f.clear_at) this.clock.setTimeout(() => inject(true), Math.max(0, this.at(f.clear_at!) - now));
  }
}

/**
 * Books a simulated day's meetings as the booking system would send them: the known
 * ones at once, an ad-hoc one (bookedAt) when its booking arrives on the clock (P13).
 * Also for the demo (`npm start`), so its rooms get prepared.
 */
export function bookDay(schedule: Schedule, meetings: readonly SimMeeting[], clock: Clock, report: { booked?: (id: string) => void; rejected?: (id: string, why: string) => void } = {}): void {
  const now = clock.now();
  for (const m of meetings) {
    const booking = { id: m.id, room: m.room, start: m.start, end: m.end, level: m.level, attendees: m.attendees, ...(m.title ? { title: m.title } : {}), ...(m.organizer ? { organizer: m.organizer } : {}) };
    const upsert = () => {
      try {
        schedule.upsert(booking);
        report.booked?.(m.id);
      } catch (err) {
        report.rejected?.(m.id, isRoomctlError(err) ? err.message : String(err));
      }
    };
    if (m.bookedAt !== undefined && m.bookedAt > now) clock.setTimeout(upsert, m.bookedAt - now);
    else upsert();
  }
}

/**
 * The simulated gateways answer on loopback in the turn a request arrives (well under a
 * millisecond); a unit that does not answer (a fault) costs the request timeout in real
 * time, with virtual time standing still until it has run out (harness.ts counts the
 * request in flight), so a silent unit is found at the instant it was asked whatever
 * the speed of the play. The site's timeout (1 s by default) would make a day with
 * faults crawl; 100 ms still leaves a busy machine ample time for a real answer.
 */
const SIM_TIMEOUT_MS = 100;

/**
 * A real controller runs through the night, so the first meeting of a day gets the whole
 * pre-conditioning window (P5: optimal start looks up to MAX_PRECONDITION_MINUTES before the
 * readiness check; a hall after a January night with its fan-coils off needs most of it). A
 * simulated day that began at simulation.start (07:30) would deny it that and fail a room
 * production would have had ready. So a played day starts no later than that window of its
 * first meeting, less 5 minutes for the first polls: a 09:00 meeting with T-15 → 05:40.
 */
export function overnightStart(site: Site): string {
  const simulation = simulationOf(site);
  const configured = minutesOfDay(simulation.start);
  const lead = (room: string) => site.rooms.find((r) => r.id === room)?.policy.lead_minutes.ready ?? 15;
  const windows = simulation.meetings.filter((m) => m.booked_at === undefined).map((m) => minutesOfDay(m.start) - lead(m.room) - MAX_PRECONDITION_MINUTES - 5);
  const start = Math.max(0, Math.min(configured, ...windows));
  return `${String(Math.floor(start / 60)).padStart(2, '0')}:${String(start % 60).padStart(2, '0')}`;
}

/**
 * The site as a simulated day plays it: the embedded broker on a free port, every
 * Modbus gateway on a free loopback port (simulator and adapters agree, and two runs
 * never collide), the simulated day and start time set.
 */
async function playableSite(options: SimDayOptions): Promise<Site> {
  const { site } = options;
  const simulation = { ...simulationOf(site) };
  if (options.day) simulation.day = options.day;
  if (options.start === 'overnight') simulation.start = overnightStart({ ...site, config: { ...site.config, simulation } });
  else if (options.start) simulation.start = options.start;
  if (!simulation.day) simulation.day = new Intl.DateTimeFormat('en-CA', { timeZone: site.config.site.timezone }).format(Date.now());
  const ports = new Map<string, number>();
  const rooms = [];
  for (const room of site.rooms) {
    const devices: ResolvedDevice[] = [];
    for (const d of room.devices) {
      const mb = d.modbus;
      if (!mb?.link.tcp) {
        devices.push(d);
        continue;
      }
      if (!ports.has(mb.link.key)) ports.set(mb.link.key, await freePort());
      const port = ports.get(mb.link.key)!;
      devices.push({ ...d, modbus: { ...mb, pollMs: options.pollMs ?? mb.pollMs, link: { ...mb.link, key: `tcp:127.0.0.1:${port}`, tcp: { host: '127.0.0.1', port }, timeoutMs: Math.min(mb.link.timeoutMs, SIM_TIMEOUT_MS) } } });
    }
    rooms.push({ ...room, devices });
  }
  const mqtt = { ...site.config.mqtt, url: undefined, broker: { ...site.config.mqtt.broker, host: '127.0.0.1', port: 0, tls: undefined } };
  return { ...site, rooms, config: { ...site.config, mqtt, simulation } };
}
