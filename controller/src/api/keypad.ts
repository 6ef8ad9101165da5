import type { Room } from '../config/load.ts';
import type { Logger } from '../log.ts';
import type { SceneResult } from '../engine/reconcile/scenes.ts';
import { topics } from '../model/topics.ts';

/**
 * Wall keypads (issue 6, item 3): a keypad publishes a scene name on
 * `<prefix>/<site>/rooms/<room>/scene/set` — plain text (`meeting`), a JSON string
 * (`"meeting"`) or JSON `{"scene": "meeting"}`. The scene runs through the engine like
 * one from the API (every write proven by read-back), and the engine publishes the
 * result retained on `<prefix>/<site>/rooms/<room>/scene`.
 *
 * A message naming an unknown room or scene, or unreadable, is counted and logged
 * (at most one warning a minute) and otherwise ignored: it must not overwrite the
 * retained active scene with an error. A bouncing or stuck key cannot queue scenes
 * without end either: per room one scene runs and at most one waits; a newer press
 * replaces the waiting one (the last press wins).
 *
 * Presses survive a broker restart (issue 11): roomctl's session is persistent and its
 * subscription QoS 1, so a press can arrive twice (QoS 1 is "at least once"). A keypad
 * that numbers its presses — `{"scene": "meeting", "id": "…"}` — has each one applied
 * once: an id seen in the last 10 minutes for that room is ignored (counted as a
 * duplicate). Without an id, the same scene for the same room within 2 s is taken as
 * the redelivery it almost always is (pressing the same key twice that fast changes
 * nothing anyway).
 */
export interface KeypadDeps {
  rooms: readonly Pick<Room, 'id' | 'scenes'>[];
  sitePrefix: string;
  subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): () => void;
  applyScene(room: string, scene: string, source: string): Promise<SceneResult>;
  logger: Logger;
}

export class KeypadScenes {
  readonly name = 'keypad scenes';
  readonly counts = { accepted: 0, rejected: 0, replaced: 0, duplicates: 0 };
  /** Per room: press id → when it was first seen (Date.now()). */
  private pressIds = new Map<string, Map<string, number>>();
  /** Per room: the last scene taken without an id and when. */
  private lastPlain = new Map<string, { scene: string; at: number }>();
  private running = new Map<string, Promise<unknown>>();
  private waiting = new Map<string, string>();
  private off?: () => void;
  private lastWarn = 0;

  constructor(private deps: KeypadDeps) {}

  get filter(): string {
    return topics.sceneSetFilter(this.deps.sitePrefix);
  }

  start(): void {
    this.off = this.deps.subscribe(this.filter, (topic, payload) => this.message(topic, payload));
  }

  /** Stops listening; scenes already running finish (the engine's stop ends their waits). */
  async stop(): Promise<void> {
    this.off?.();
    this.off = undefined;
    this.waiting.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  message(topic: string, payload: Buffer): void {
    const roomId = topics.roomOfSceneSet(this.deps.sitePrefix, topic) ?? '';
    const room = this.deps.rooms.find((r) => r.id === roomId);
    if (!room) return this.reject(roomId, `unknown room "${roomId.slice(0, 64)}"`);
    const press = keypadPress(payload);
    if (press === undefined) return this.reject(roomId, 'payload is not a scene name, a JSON string or {"scene": …, "id"?: …}');
    const scene = press.scene;
    if (!room.scenes[scene]) return this.reject(roomId, `room ${roomId} has no scene "${scene.slice(0, 64)}" (known: ${Object.keys(room.scenes).join(', ') || 'none'})`);
    if (this.duplicate(roomId, press)) {
      this.counts.duplicates++;
      return;
    }
    this.counts.accepted++;
    if (this.running.has(roomId)) {
      if (this.waiting.has(roomId)) this.counts.replaced++;
      this.waiting.set(roomId, scene);
      return;
    }
    this.run(roomId, scene);
  }

  /** The press ids taken for a room in the de-duplication window, oldest first. */
  pressIdsOf(room: string): string[] {
    return [...(this.pressIds.get(room)?.keys() ?? [])];
  }

  /** True if this press was already taken (same id within 10 min; no id: same scene within 2 s). */
  private duplicate(room: string, press: KeypadPress): boolean {
    const now = Date.now();
    if (press.id === undefined) {
      const last = this.lastPlain.get(room);
      this.lastPlain.set(room, { scene: press.scene, at: now });
      return !!last && last.scene === press.scene && now - last.at < PLAIN_WINDOW_MS;
    }
    let ids = this.pressIds.get(room);
    if (!ids) this.pressIds.set(room, (ids = new Map()));
    for (const [id, at] of ids) {
      if (now - at < ID_WINDOW_MS && ids.size <= MAX_IDS) break;
      ids.delete(id);
    }
    if (ids.has(press.id)) return true;
    ids.set(press.id, now);
    return false;
  }

  private run(room: string, scene: string): void {
    const p = this.deps
      .applyScene(room, scene, 'keypad')
      .catch((err: unknown) => this.deps.logger.error({ err, room, scene }, 'keypad: the scene failed to run'))
      .finally(() => {
        this.running.delete(room);
        const next = this.waiting.get(room);
        if (next !== undefined && this.off) {
          this.waiting.delete(room);
          this.run(room, next);
        }
      });
    this.running.set(room, p);
  }

  private reject(room: string, reason: string): void {
    this.counts.rejected++;
    const now = Date.now();
    if (now - this.lastWarn < 60_000) return;
    this.lastWarn = now;
    this.deps.logger.warn({ room: room.slice(0, 64), rejected: this.counts.rejected }, `keypad message ignored: ${reason}`);
  }
}

const ID_WINDOW_MS = 10 * 60_000;
const PLAIN_WINDOW_MS = 2000;
const MAX_IDS = 1000;

export interface KeypadPress {
  scene: string;
  /** The keypad's number for this press, when it gives one. */
  id?: string;
}

/** A press: a scene name (as `sceneName` reads it) and, from `{"scene": …, "id": …}`, its id. */
export function keypadPress(payload: Buffer): KeypadPress | undefined {
  const scene = sceneName(payload);
  if (scene === undefined) return undefined;
  const text = payload.toString('utf8').trim();
  if (!text.startsWith('{')) return { scene };
  const id = (JSON.parse(text) as { id?: unknown }).id;
  if (typeof id === 'string' && id.length > 0 && id.length <= 128) return { scene, id };
  if (typeof id === 'number' && Number.isFinite(id)) return { scene, id: String(id) };
  return { scene };
}

/** `meeting`, `"meeting"` or `{"scene":"meeting"}` → meeting; anything else → undefined. */
export function sceneName(payload: Buffer): string | undefined {
  if (payload.length === 0 || payload.length > 1024) return undefined;
  const text = payload.toString('utf8').trim();
  let name: unknown = text;
  if (text.startsWith('{') || text.startsWith('"')) {
    try {
      const json = JSON.parse(text) as unknown;
      name = typeof json === 'string' ? json : json && typeof json === 'object' && !Array.isArray(json) ? (json as { scene?: unknown }).scene : undefined;
    } catch {
      return undefined;
    }
  }
  return typeof name === 'string' && /^[a-z][a-z0-9_-]*$/.test(name) ? name : undefined;
}
