import { join } from 'node:path';
import type { Room, Site } from '../config/load.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { PointWriter } from '../model/adapter.ts';
import type { EventBus } from '../model/bus.ts';
import type { Clock } from '../model/clock.ts';
import type { AlertEvent, CheckOutcome, MeetingVerdict } from '../model/events.ts';
import { seasonAt } from '../model/season.ts';
import type { Publisher } from '../model/state-publisher.ts';
import { RoomActions } from './reconcile/actions.ts';
import { AlertBook } from './alerts/alert-book.ts';
import { DeviceFlagWatch } from './alerts/device-flags.ts';
import { runChecks, type StateReader } from './readiness/checks.ts';
import { Closer } from './jobs/closing.ts';
import { DueQueue } from './timeline/due-queue.ts';
import { Enforcer } from './reconcile/enforcement.ts';
import { Reconciler } from './reconcile/reconciler.ts';
import { topics } from '../model/topics.ts';
import { ReadinessWatch } from './readiness/readiness-watch.ts';
import { HvacProgress } from './hvac/hvac-progress.ts';
import { restoreIntent, restorePhases } from './intent/restart.ts';
import type { WriteContext, WriteRequest } from './reconcile/enforcement.ts';
import { HvacLedger, ThermalLearner } from './hvac/optimal-start.ts';
import { ReadinessBook, type MeetingRecord } from './readiness/readiness-book.ts';
import { RoomWatch, type RoomPhase } from './readiness/room-watch.ts';
import { Routines, type RoutineTask } from './jobs/routines.ts';
import { SceneRunner, type SceneResult } from './reconcile/scenes.ts';
import type { Schedule } from './timeline/schedule.ts';
import { JobRunner } from './jobs/job-runner.ts';
import { ref, type JobSettings } from './jobs/job.ts';
import type { HvacStrategy } from './hvac/hvac-start.ts';
import { ThermalFile } from './hvac/thermal-file.ts';
import { Timeline } from './timeline/timeline.ts';
import { Waits } from './timeline/waits.ts';

/**
 * The readiness engine (issue 4): every booked meeting's room prepared in time and
 * proven ready, closed afterwards, the site's daily routines run — on the devices, over
 * the adapters, on the injected clock. It owns the timeline (one due-queue for every
 * meeting), the enforcer (proven writes), the alert book, the readiness records, the
 * optimal-start learner and the room phases; everything it finds goes on the bus
 * (`check`, `verdict`, `alert`, `activity`) and, with a publisher, on MQTT:
 *   <prefix>/<site>/alerts                 every alert raised or cleared (QoS 1, not retained)
 *   <prefix>/<site>/rooms/<room>/readiness the room's readiness and last verdict (retained)
 *   <prefix>/<site>/rooms/<room>/scene     the last scene applied and its result (retained)
 * P15: none of these carries a meeting title or organizer.
 *
 * With a data directory, alerts (alerts.json), readiness records (readiness.json) and
 * the learned thermal rates (thermal.json) survive a restart, like the schedule.
 */
export interface EngineSettings extends JobSettings {
  /** Read-back wait per write (Modbus units are polled every few seconds). */
  verifyTimeoutMs: number;
  attempts: number;
  backoffMs: number;
  /** How long a mic test waits for every channel to report a level. */
  micTestWaitMs: number;
}

export const DEFAULT_SETTINGS: EngineSettings = {
  hvac: { kind: 'optimal' },
  monitorEveryMs: 3 * 60_000,
  recheckEveryMs: 2 * 60_000,
  closeRetryMs: 60_000,
  verifyTimeoutMs: 30_000,
  attempts: 3,
  backoffMs: 2000,
  micTestWaitMs: 60_000,
};

export interface EngineOptions {
  site: Site;
  state: StateReader;
  writer: PointWriter;
  bus: EventBus;
  clock: Clock;
  schedule: Schedule;
  dataDir?: string;
  logger?: Logger;
  /** MQTT out (the MQTT adapter); absent = bus only. */
  publisher?: Publisher;
  /** `<prefix>/<site>`. */
  sitePrefix?: string;
  settings?: Partial<EngineSettings>;
}

const THERMAL_SAVE_EVERY_MS = 3600_000;
/** The learner samples every 5 minutes at most (optimal-start.ts); this feeds it at that pace. */
const THERMAL_SAMPLE_EVERY_MS = 5 * 60_000;

export class Engine {
  readonly name = 'readiness engine';
  readonly alerts: AlertBook;
  readonly readiness: ReadinessBook;
  readonly learner: ThermalLearner;
  readonly ledger = new HvacLedger();
  readonly timeline: Timeline;
  readonly routines: Routines;
  readonly scenes: SceneRunner;
  readonly settings: EngineSettings;
  private readonly rooms: Map<string, Room>;
  private readonly waits: Waits;
  private readonly enforcer: Enforcer;
  readonly reconciler: Reconciler;
  private readonly readinessWatch: ReadinessWatch;
  /** Devices' own fault and alarm flags → alerts naming the device. */
  private readonly deviceFlags: DeviceFlagWatch;
  private readonly hvacProgress: HvacProgress;
  private readonly actions: RoomActions;
  private readonly closer: Closer;
  private readonly watch: RoomWatch;
  private readonly jobs: JobRunner;
  private readonly queue: DueQueue<RoutineTask>;
  private readonly log: Logger;
  private readonly inFlight = new Set<Promise<unknown>>();
  private unsubscribe: (() => void)[] = [];
  private stopping = false;
  private readonly thermal: ThermalFile;

  constructor(private options: EngineOptions) {
    const { site, state, bus, clock, schedule, dataDir } = options;
    this.log = (options.logger ?? silentLogger).child({ part: 'engine' });
    this.settings = { ...DEFAULT_SETTINGS, ...options.settings };
    this.rooms = new Map(site.rooms.map((r) => [r.id, r]));
    // P5: learned per season of the site's own calendar (site.seasons), not the machine's default months.
    this.learner = new ThermalLearner({ seasonOf: (ts) => seasonAt(site.config.site, ts) });
    this.waits = new Waits(clock);
    this.thermal = new ThermalFile(this.learner, site.config.site.id, dataDir ? join(dataDir, 'thermal.json') : '', clock, this.log);
    this.alerts = new AlertBook(bus, clock, { file: dataDir && join(dataDir, 'alerts.json'), logger: this.log });
    this.readiness = new ReadinessBook({ clock, file: dataDir && join(dataDir, 'readiness.json'), logger: this.log });
    // No alert book here: a write that cannot be proven shows in the check that follows it (one alert per fault).
    this.enforcer = new Enforcer({ rooms: site.rooms, state, bus, writer: options.writer, clock, verifyTimeoutMs: this.settings.verifyTimeoutMs, attempts: this.settings.attempts, backoffMs: this.settings.backoffMs, logger: this.log });
    this.reconciler = new Reconciler({ rooms: site.rooms, state, bus, clock, enforcer: this.enforcer, alerts: this.alerts, logger: this.log });
    this.readinessWatch = new ReadinessWatch({ site, state, bus, clock, schedule, alerts: this.alerts, book: this.readiness, logger: this.log, changed: (room) => bus.emit('readiness', { room, ts: clock.now() }), released: (room, id) => this.watch.phase(room) === 'released' && this.watch.phaseMeeting(room) === id });
    this.deviceFlags = new DeviceFlagWatch({ site, state, bus, clock, alerts: this.alerts, focus: (room, now) => this.readinessWatch.focus(room, now) });
    this.actions = new RoomActions({ site, state, bus, clock, reconciler: this.reconciler, alerts: this.alerts, book: this.readiness, waits: this.waits, log: this.log, micTestWaitMs: this.settings.micTestWaitMs });
    this.watch = new RoomWatch({
      site,
      state,
      bus,
      clock,
      learner: this.learner,
      ledger: this.ledger,
      band: (room, ts) => this.actions.band(room, ts),
      onLightsOnWhileQuiet: (room) => this.routines.lightsOn(room),
      onDoorClosed: (room) => this.track(this.closer.doorClosed(this.rooms.get(room)!)),
    });
    this.hvacProgress = new HvacProgress({ rooms: site.rooms, state, clock, alerts: this.alerts, preparing: (room) => this.watch.preparing(room), meeting: (id) => schedule.get(id), band: (room, ts) => this.actions.band(room, ts), timeZone: site.config.site.timezone });
    this.closer = new Closer({ actions: this.actions, state, watch: this.watch, book: this.readiness, bus, clock });
    this.scenes = new SceneRunner({ rooms: site.rooms, enforcer: this.enforcer, bus, clock, waits: this.waits, publish: (room, result) => this.publish((sp) => topics.roomScene(sp, room), result, true), applied: (room, point, value) => this.reconciler.adopt(room, point, value) });
    this.queue = new DueQueue<RoutineTask>(clock, (task) => this.track(Promise.resolve().then(task)), (err, key) => this.log.error({ err, key }, 'engine: a routine failed'));
    this.routines = new Routines({ site, rooms: this.rooms, actions: this.actions, closer: this.closer, watch: this.watch, schedule, state, queue: this.queue, bus, clock, log: this.log });
    this.jobs = new JobRunner(
      { actions: this.actions, closer: this.closer, scenes: this.scenes, schedule, book: this.readiness, ledger: this.ledger, learner: this.learner, watch: this.watch, state, waits: this.waits, clock, bus, log: this.log, settings: this.settings },
      this.rooms,
      this.queue,
      (id) => schedule.get(id),
    );
    this.timeline = new Timeline({ schedule, rooms: site.rooms, clock, run: (step, meeting) => this.jobs.run(step, meeting), logger: this.log });
  }

  start(): void {
    const { bus, schedule } = this.options;
    this.alerts.load();
    this.readiness.load();
    this.loadThermal();
    this.unsubscribe.push(bus.on('alert', (a) => this.publish(topics.alerts, a, false)));
    // Results are bus events; the retained readiness topic follows them.
    this.unsubscribe.push(bus.on('verdict', (v) => this.publishReadiness(v.room)));
    this.unsubscribe.push(bus.on('readiness', (r) => this.publishReadiness(r.room)));
    this.unsubscribe.push(bus.on('phase', (p) => this.publishReadiness(p.room)));
    this.unsubscribe.push(schedule.onChange((c) => (c.kind === 'cancelled' ? this.cancelled(c.meeting.id, c.meeting.room) : undefined)));
    this.watch.start();
    this.reconciler.start();
    const restart = { site: this.options.site, rooms: this.rooms.values(), schedule, book: this.readiness, watch: this.watch, clock: this.options.clock, log: this.log, write: (room: Room, w: WriteRequest[], ctx: WriteContext) => this.actions.write(room, w, ctx) };
    restorePhases(restart);
    for (const p of restoreIntent({ ...restart, rooms: this.rooms.values() })) void this.track(p);
    this.deviceFlags.start();
    this.readinessWatch.start();
    this.hvacProgress.start();
    this.routines.start();
    this.queue.schedule('thermal-save', this.options.clock.now() + THERMAL_SAVE_EVERY_MS, () => this.saveThermalEvery());
    this.queue.schedule('thermal-sample', this.options.clock.now() + THERMAL_SAMPLE_EVERY_MS, () => this.sampleThermalEvery());
    this.queue.start();
    this.timeline.start();
    this.log.info({ rooms: this.rooms.size, meetings: schedule.meetings().length, activeAlerts: this.alerts.active().length }, 'readiness engine started');
  }

  /** Ends every wait, then lets steps in progress settle (they are re-queued, not recorded as done). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.waits.stop();
    this.readinessWatch.stop();
    this.deviceFlags.stop();
    this.hvacProgress.stop();
    this.reconciler.stop();
    this.enforcer.stop();
    this.queue.stop();
    await this.timeline.stop();
    await Promise.allSettled([...this.inFlight]);
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    this.watch.stop();
    this.readiness.flush();
    this.saveThermal();
  }

  /** Runs every readiness check of a room now, for its current or next meeting (CLI `roomctl check`); no alerts. */
  checkRoom(roomId: string): CheckOutcome[] {
    const room = this.rooms.get(roomId);
    if (!room) return [];
    const now = this.options.clock.now();
    const meeting = this.focusMeeting(roomId);
    const outcomes = runChecks('ready', { room, state: this.options.state, season: seasonAt(this.options.site.config.site, now), ...(meeting ? { meeting: { id: meeting.id, level: meeting.level } } : {}) }, { ts: now, step: 'manual' });
    for (const o of outcomes) this.options.bus.emit('check', o);
    return outcomes;
  }

  verdict(meetingId: string): MeetingVerdict | undefined {
    return this.readiness.verdict(meetingId);
  }

  /** A meeting's record: every check's outcomes over time, the T-15 result, the verdict. */
  record(meetingId: string): MeetingRecord | undefined {
    return this.readiness.meeting(meetingId);
  }

  get timeZone(): string {
    return this.options.site.config.site.timezone;
  }

  phase(roomId: string): RoomPhase {
    return this.watch.phase(roomId);
  }

  /** Applies a scene of a room (wall panel, API, keypad). */
  applyScene(roomId: string, scene: string, source = 'api'): Promise<SceneResult> {
    return this.scenes.apply(roomId, scene, { source });
  }

  /** Minutes the HVAC units of a room (or of every room) ran, as they reported their power. */
  hvacMinutes(roomId?: string): number {
    return this.watch.hvacMinutes(roomId);
  }

  activeAlerts(roomId?: string): AlertEvent[] {
    return this.alerts.active(roomId);
  }

  /** The meeting a room is busy with, or its next one within a day. */
  focusMeeting(roomId: string): { id: string; level: MeetingVerdict['level']; start: number; end: number } | undefined {
    const { schedule, clock } = this.options;
    const now = clock.now();
    const id = this.watch.phaseMeeting(roomId);
    const current = id ? schedule.get(id) : undefined;
    if (current && current.status === 'scheduled' && current.end > now) return current;
    return schedule.inRoom(roomId, now, now + 86_400_000)[0];
  }

  /** The retained readiness payload of a room (P15: ids, levels, times, check names — no title or organizer). */
  readinessOf(roomId: string): object {
    const now = this.options.clock.now();
    const m = this.focusMeeting(roomId);
    const rec = m ? this.readiness.meeting(m.id) : undefined;
    const latest: Record<string, string> = {};
    for (const [check, entries] of Object.entries(rec?.checks ?? {})) if (!['lights_off', 'display_off', 'hvac_off', 'fresh_air_off', 'door_closed', 'door_locked', 'window_closed'].includes(check)) latest[check] = entries.at(-1)!.status;
    const statuses = Object.values(latest);
    return {
      room: roomId,
      phase: this.phase(roomId),
      meeting: m ? { id: m.id, level: m.level, start: m.start, end: m.end } : null,
      ready: statuses.length === 0 ? null : statuses.every((s) => s === 'pass'),
      checks: latest,
      failing: Object.entries(latest).filter(([, s]) => s !== 'pass').map(([c]) => c),
      verdict: m ? (this.readiness.verdict(m.id) ?? null) : null,
      ts: now,
    };
  }

  private publishReadiness(roomId: string): void {
    if (!this.options.publisher || !this.options.sitePrefix) return;
    this.publish((sp) => topics.roomReadiness(sp, roomId), this.readinessOf(roomId), true);
  }

  /** A cancelled meeting's alerts are cleared; a room being prepared for it is released. */
  private cancelled(meetingId: string, roomId: string): void {
    this.jobs.cancelRecheck(meetingId);
    // Its alerts stay: a fault found for it is still a fault; each clears when its condition is true again.
    if (this.watch.preparing(roomId) === meetingId) this.watch.setPreparing(roomId, undefined);
    const room = this.rooms.get(roomId);
    if (!room || this.watch.phaseMeeting(roomId) !== meetingId || this.watch.phase(roomId) === 'in_session') return;
    const m = this.options.schedule.get(meetingId)!;
    const next = this.options.schedule.nextIn(roomId, this.options.clock.now());
    const soon = next !== undefined && next.start - this.options.clock.now() <= room.policy.hvac_off_horizon_minutes * 60_000;
    this.track(this.closer.close(room, ref(m), soon ? 'setback' : 'off', 'cancelled').then(() => this.publishReadiness(roomId)));
  }

  private publish(topicOf: (sitePrefix: string) => string, payload: object, retain: boolean): void {
    const { publisher, sitePrefix } = this.options;
    if (!publisher || !sitePrefix || this.stopping) return;
    const topic = topicOf(sitePrefix);
    publisher.publish(topic, payload, { retain, qos: 1 }).catch((err: Error) => this.log.debug({ err: err.message, topic }, 'engine: publish failed'));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const tracked = p.catch((err: unknown) => {
      if (!this.stopping) this.log.error({ err }, 'engine: a background task failed');
    }) as Promise<T>;
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    return tracked;
  }

  private loadThermal(): void {
    if (this.options.dataDir) this.thermal.load();
  }

  private saveThermal(): void {
    if (this.options.dataDir) this.thermal.save();
  }

  private sampleThermalEvery(): void {
    this.watch.sampleLearner();
    this.queue.schedule('thermal-sample', this.options.clock.now() + THERMAL_SAMPLE_EVERY_MS, () => this.sampleThermalEvery());
  }

  private saveThermalEvery(): void {
    this.saveThermal();
    this.queue.schedule('thermal-save', this.options.clock.now() + THERMAL_SAVE_EVERY_MS, () => this.saveThermalEvery());
    this.queue.schedule('thermal-sample', this.options.clock.now() + THERMAL_SAMPLE_EVERY_MS, () => this.sampleThermalEvery());
  }
}

export type { HvacStrategy, RoomPhase, SceneResult };

