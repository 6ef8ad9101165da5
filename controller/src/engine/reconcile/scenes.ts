import type { Room } from '../../config/load.ts';
import type { EventBus } from '../../model/bus.ts';
import type { Clock } from '../../model/clock.ts';
import type { PointValue } from '../../model/points.ts';
import type { Enforcer, WriteContext } from './enforcement.ts';
import type { Waits } from '../timeline/waits.ts';

/**
 * Applies a room's scenes (config `rooms[].scenes`): the steps in order, `wait_ms` on
 * the injected clock, every write proven by read-back through the Enforcer. A scene
 * stops at the first write that cannot be confirmed — its later steps may rely on it
 * (the projector input after the projector's power) — and says which point failed and
 * why. A scene never touches a door lock unless it says `allow_locks` (the loader
 * already refuses such a scene; this is the second line). Scenes of one room run one
 * after another, so a wall-panel press and the schedule's scene never interleave.
 * The result goes out retained on `<prefix>/<site>/rooms/<room>/scene` and as an
 * `activity` event.
 */
export interface SceneWrite {
  point: string;
  value: PointValue;
  sent?: PointValue;
  confirmed: boolean;
  attempts: number;
}

export interface SceneResult {
  room: string;
  scene: string;
  /** Every write confirmed. */
  ok: boolean;
  applied: SceneWrite[];
  /** The write that stopped the scene, or why it could not run at all. */
  failed?: { point?: string; reason: string };
  /** Lock writes left out because the scene does not allow locks. */
  skipped: { point: string; why: string }[];
  /** What asked for it: `panel`, `api`, `schedule`, `keypad`… */
  source: string;
  meetingId?: string;
  started: number;
  ts: number;
}

export interface SceneRunnerOptions {
  rooms: readonly Pick<Room, 'id' | 'devices' | 'scenes'>[];
  enforcer: Enforcer;
  bus: EventBus;
  clock: Clock;
  waits: Waits;
  /** Publishes the retained scene topic (the engine wires it to MQTT). */
  publish?: (room: string, result: SceneResult) => void;
  /** A write the scene is making: it becomes the point's desired value (the reconciler does not undo a panel press). */
  applied?: (room: string, point: string, value: PointValue) => void;
}

export class SceneRunner {
  private rooms: Map<string, Pick<Room, 'id' | 'devices' | 'scenes'>>;
  private queues = new Map<string, Promise<unknown>>();
  private last = new Map<string, SceneResult>();

  constructor(private options: SceneRunnerOptions) {
    this.rooms = new Map(options.rooms.map((r) => [r.id, r]));
  }

  /** The last scene result of a room (what the retained topic holds). */
  lastResult(room: string): SceneResult | undefined {
    return this.last.get(room);
  }

  /** Applies a scene; queued behind any scene still running in the same room. Never throws for bad input: the result says why. */
  apply(roomId: string, name: string, ctx: WriteContext & { source?: string } = {}): Promise<SceneResult> {
    const previous = this.queues.get(roomId) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.run(roomId, name, ctx));
    const tail = run.catch(() => {});
    this.queues.set(roomId, tail);
    void tail.then(() => {
      if (this.queues.get(roomId) === tail) this.queues.delete(roomId);
    });
    return run;
  }

  private async run(roomId: string, name: string, ctx: WriteContext & { source?: string }): Promise<SceneResult> {
    const { clock, enforcer, waits } = this.options;
    const started = clock.now();
    const result: SceneResult = { room: roomId, scene: name, ok: false, applied: [], skipped: [], source: ctx.source ?? 'api', started, ts: started };
    if (ctx.meetingId !== undefined) result.meetingId = ctx.meetingId;
    const room = this.rooms.get(roomId);
    const scene = room?.scenes[name];
    if (!room) result.failed = { reason: `unknown room "${roomId}"` };
    else if (!scene) result.failed = { reason: `room ${roomId} has no scene "${name}" (known: ${Object.keys(room.scenes).join(', ') || 'none'})` };
    else {
      const locks = new Set(room.devices.filter((d) => d.profile.kind === 'door').flatMap((d) => d.points.filter((p) => /lock/.test(p.id.slice(d.name.length + 1))).map((p) => p.id)));
      for (const step of scene.steps) {
        if ('wait_ms' in step) {
          await waits.sleep(step.wait_ms);
          continue;
        }
        if (locks.has(step.set) && !scene.allow_locks) {
          result.skipped.push({ point: step.set, why: 'the scene does not allow locks' });
          continue;
        }
        this.options.applied?.(roomId, step.set, step.value);
        const o = await enforcer.apply(roomId, step.set, step.value, ctx);
        waits.check();
        const w: SceneWrite = { point: step.set, value: step.value, confirmed: o.confirmed, attempts: o.attempts };
        if (o.sent !== undefined) w.sent = o.sent;
        result.applied.push(w);
        if (o.confirmed && o.sent !== undefined && o.sent !== step.value) this.options.applied?.(roomId, step.set, o.sent);
        if (!o.confirmed) {
          result.failed = { point: step.set, reason: o.reason ?? 'not confirmed' };
          break;
        }
      }
      result.ok = !result.failed;
    }
    result.ts = clock.now();
    this.last.set(roomId, result);
    this.options.publish?.(roomId, result);
    this.options.bus.emit('activity', {
      room: roomId,
      kind: 'scene',
      name,
      result: result.ok ? 'ok' : result.applied.some((a) => a.confirmed) ? 'partial' : 'failed',
      ...(result.failed ? { detail: result.failed.point ? `${result.failed.point}: ${result.failed.reason}` : result.failed.reason } : {}),
      ...(ctx.meetingId !== undefined ? { meetingId: ctx.meetingId } : {}),
      ts: result.ts,
    });
    return result;
  }
}
