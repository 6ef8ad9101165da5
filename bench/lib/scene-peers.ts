import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { BenchPublisher } from './publisher.ts';
import type { RoomctlChildCommand, RoomctlChildReport } from './scene-roomctl.ts';
import { lightsBase, RED_ROOM, SCENE_ROOM, SCENE_TOPIC_ROOT, ZONES } from './scene-site.ts';
import type { Message } from './telemetry.ts';

/**
 * What bench:scene runs around the two systems it compares: the lighting controllers
 * (answer every command at once), the observer that timestamps each device command as
 * the broker delivers it, the paced background telemetry, and the roomctl child.
 */

/** Small packets out at once: a device answers a command without waiting for more to send (no Nagle). */
function noDelay(client: MqttClient): void {
  (client.stream as unknown as Partial<Socket>).setNoDelay?.(true);
}

/** Two six-zone lighting controllers that report every command straight back, as a real one reports its new state. */
export class EchoLights {
  private constructor(private client: MqttClient) {}

  static async start(url: string): Promise<EchoLights> {
    const client = await mqtt.connectAsync(url, { clientId: `bench-scene-lights-${process.pid}`, reconnectPeriod: 0 });
    noDelay(client);
    const state = new Map<string, { on: boolean; level: number }>();
    for (const room of [SCENE_ROOM, RED_ROOM]) {
      await client.publishAsync(`${lightsBase(room)}/availability`, 'online', { qos: 1, retain: true });
      for (const zone of ZONES) {
        state.set(`${room}/${zone}`, { on: false, level: 0 });
        await client.publishAsync(`${lightsBase(room)}/${zone}/state`, JSON.stringify({ on: false, level: 0 }), { qos: 1, retain: true });
      }
    }
    client.on('message', (topic, payload) => {
      const [, room, , zone] = topic.split('/');
      const s = state.get(`${room}/${zone}`);
      if (!s) return;
      try {
        Object.assign(s, JSON.parse(payload.toString()) as object);
      } catch {
        return;
      }
      client.publish(`${lightsBase(room!)}/${zone}/state`, JSON.stringify(s), { qos: 0, retain: true });
    });
    await client.subscribeAsync(`${SCENE_TOPIC_ROOT}/+/lights/+/set`, { qos: 0 });
    return new EchoLights(client);
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}

/** A device command as `z1.on=true`: the zone and the value, without roomctl's command id. */
export function commandText(zone: string, payload: Buffer): string {
  try {
    const json = JSON.parse(payload.toString()) as Record<string, unknown>;
    return 'on' in json ? `${zone}.on=${String(json.on)}` : `${zone}.level=${String(json.level)}`;
  } catch {
    return `${zone}: ${payload.toString().slice(0, 60)}`;
  }
}

interface Waiter {
  room: string;
  expected: string[];
  next: number;
  first: number;
  strays: string[];
  resolve: (at: number) => void;
}

/**
 * Timestamps (performance.now()) each device command as the broker delivers it. A press
 * is done when the scene's commands have all arrived, in order; anything else seen for
 * the room meanwhile is a stray (a duplicate, a retry) and reported, never counted.
 */
export class CommandWatch {
  private waiter?: Waiter;
  private sceneResults = new Map<string, (result: { ok: boolean; scene: string; source: string }) => void>();

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      const at = performance.now();
      const parts = topic.split('/');
      if (parts[0] === SCENE_TOPIC_ROOT && parts[4] === 'set') {
        const w = this.waiter;
        if (!w || w.room !== parts[1]) return;
        const text = commandText(parts[3]!, payload);
        if (text !== w.expected[w.next]) return void w.strays.push(text);
        if (w.next++ === 0) w.first = at;
        if (w.next === w.expected.length) {
          this.waiter = undefined;
          w.resolve(at);
        }
      } else if (topic.endsWith('/scene')) {
        const room = parts.at(-2)!;
        this.sceneResults.get(room)?.(JSON.parse(payload.toString()) as { ok: boolean; scene: string; source: string });
      }
    });
  }

  static async connect(url: string): Promise<CommandWatch> {
    const client = await mqtt.connectAsync(url, { clientId: `bench-scene-watch-${process.pid}`, reconnectPeriod: 0 });
    noDelay(client);
    const watch = new CommandWatch(client);
    await client.subscribeAsync([`${SCENE_TOPIC_ROOT}/+/lights/+/set`, 'roomctl/bench/rooms/+/scene'], { qos: 0 });
    return watch;
  }

  /** Armed before a press: resolves when `expected` (commandText form) has arrived for `room`, with the first and last arrival times. */
  arm(room: string, expected: string[], timeoutMs: number): Promise<{ first: number; at: number; strays: string[] }> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        room,
        expected,
        next: 0,
        first: 0,
        strays: [],
        resolve: (at) => {
          clearTimeout(timer);
          resolve({ first: w.first, at, strays: w.strays });
        },
      };
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`only ${w.next} of the ${expected.length} device commands of ${room} reached the broker within ${timeoutMs} ms (next expected ${expected[w.next]}; strays: ${w.strays.join(' ') || 'none'})`));
      }, timeoutMs);
      this.waiter = w;
    });
  }

  /**
   * The result roomctl publishes for this keypad press (retained topic): the next one
   * from the keypad for this scene — a panel press's result may still be on its way.
   */
  nextSceneResult(room: string, scene: string, timeoutMs: number): Promise<{ ok: boolean; at: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.sceneResults.delete(room);
        reject(new Error(`no keypad result of scene ${scene} for ${room} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.sceneResults.set(room, (r) => {
        if (r.source !== 'keypad' || r.scene !== scene) return;
        this.sceneResults.delete(room);
        clearTimeout(timer);
        resolve({ ok: r.ok, at: performance.now() });
      });
    });
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}

/**
 * Background telemetry at a steady rate: the ingest bench's pre-encoded messages,
 * written in slices every few milliseconds so that `rate` messages go out per second,
 * round after round (every round changes every value, so each message is one reading
 * roomctl must apply).
 */
export class PacedTelemetry {
  private readonly encoded: Buffer;
  private readonly offsets: number[];
  private timer?: NodeJS.Timeout;
  private startedAt = 0;
  sent = 0;

  constructor(
    private publisher: BenchPublisher,
    messages: readonly Message[],
    private rate: number,
  ) {
    this.encoded = BenchPublisher.encode(messages);
    this.offsets = packetOffsets(this.encoded);
  }

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), 4);
  }

  /** Stops; returns the messages written and the rate achieved. */
  stop(): { sent: number; rate: number } {
    clearInterval(this.timer);
    const seconds = (performance.now() - this.startedAt) / 1000;
    return { sent: this.sent, rate: this.sent / seconds };
  }

  private tick(): void {
    const due = Math.floor((this.rate * (performance.now() - this.startedAt)) / 1000);
    const n = this.offsets.length - 1;
    while (this.sent < due) {
      const from = this.sent % n;
      const count = Math.min(due - this.sent, n - from);
      this.publisher.write(this.encoded.subarray(this.offsets[from]!, this.offsets[from + count]!));
      this.sent += count;
    }
  }
}

/** Start offsets of each PUBLISH packet in an encoded run, plus its end. */
function packetOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  let at = 0;
  while (at < buf.length) {
    out.push(at);
    let length = 0;
    let multiplier = 1;
    let i = at + 1;
    for (;;) {
      const byte = buf[i++]!;
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) === 0) break;
    }
    at = i + length;
  }
  out.push(buf.length);
  return out;
}

const RUN_TS = fileURLToPath(new URL('../../bin/run-ts.js', import.meta.url));

/** The roomctl service in a child process (lib/scene-roomctl.ts), spoken to over IPC. */
export class RoomctlChild {
  private reports: RoomctlChildReport[] = [];
  private wake?: () => void;
  private exited = false;
  private stopping = false;
  private stderr = '';

  private constructor(private proc: ChildProcess) {
    proc.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    proc.on('message', (m) => {
      this.reports.push(m as RoomctlChildReport);
      this.wake?.();
    });
    proc.once('exit', (code, signal) => {
      this.exited = true;
      if (!this.stopping) console.error(`  the roomctl child exited by itself (code ${code}, signal ${signal}):\n${this.stderr}`);
      this.wake?.();
    });
  }

  /** `execArgv`: node flags for the child, e.g. `--cpu-prof` (bench:scene passes them from BENCH_PROFILE_DIR). */
  static start(brokerUrl: string, rooms: number, execArgv: string[] = []): RoomctlChild {
    return new RoomctlChild(fork(RUN_TS, [fileURLToPath(new URL('scene-roomctl.ts', import.meta.url)), '--url', brokerUrl, '--rooms', String(rooms)], { execArgv, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] }));
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async next<T extends RoomctlChildReport['type']>(type: T, timeoutMs: number): Promise<Extract<RoomctlChildReport, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.reports.findIndex((r) => r.type === type);
      if (i >= 0) return this.reports.splice(i, 1)[0] as Extract<RoomctlChildReport, { type: T }>;
      if (this.exited) throw new Error(`the roomctl child exited before reporting "${type}":\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the roomctl child did not report "${type}" within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  async stats(): Promise<Extract<RoomctlChildReport, { type: 'stats' }>> {
    this.send({ type: 'stats' });
    return this.next('stats', 10_000);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
  }

  private send(cmd: RoomctlChildCommand): void {
    if (!this.exited) this.proc.send(cmd);
  }
}
