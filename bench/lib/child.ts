import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUN_TS = fileURLToPath(new URL('../../bin/run-ts.js', import.meta.url));

/** What a consumer child reports to the bench. */
export type ConsumerReport =
  | { type: 'ready'; rssBytes: number; peakRssBytes: number; heapUsedBytes: number; baselineRssBytes: number; setupMs: number; devices: number; points: number }
  | { type: 'done'; count: number; doneAt: number; problems: string[]; detail: Record<string, number> }
  | { type: 'progress'; count: number };

export type ConsumerCommand = { type: 'progress' } | { type: 'stop' };

/** High-resolution wall-clock time in ms, comparable between processes on one machine. */
export const wallNow = () => performance.timeOrigin + performance.now();

/** A bench child (a TypeScript file run through bin/run-ts.js) spoken to over the IPC channel. */
export class ConsumerChild {
  private readonly proc: ChildProcess;
  private readonly queue: ConsumerReport[] = [];
  private waiting?: () => void;
  private exited = false;
  private stderr = '';

  /** `file`: a bench/lib file name, e.g. `roomctl-consumer.ts`. */
  constructor(file: string, args: string[], execArgv: string[] = []) {
    this.proc = fork(RUN_TS, [fileURLToPath(new URL(file, import.meta.url)), ...args], { execArgv, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.proc.on('message', (m) => {
      this.queue.push(m as ConsumerReport);
      this.waiting?.();
    });
    this.proc.once('exit', () => {
      this.exited = true;
      this.waiting?.();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  send(cmd: ConsumerCommand): void {
    if (!this.exited) this.proc.send(cmd);
  }

  /** The next report of this type, or an error naming what was awaited. */
  async next<T extends ConsumerReport['type']>(type: T, timeoutMs: number): Promise<Extract<ConsumerReport, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.queue.findIndex((m) => m.type === type);
      if (i >= 0) return this.queue.splice(i, 1)[0] as Extract<ConsumerReport, { type: T }>;
      if (this.exited) throw new Error(`${this.name()} exited before reporting "${type}":\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name()} did not report "${type}" within ${timeoutMs} ms`);
      await new Promise<void>((res) => {
        const timer = setTimeout(res, left);
        this.waiting = () => {
          clearTimeout(timer);
          res();
        };
      });
      this.waiting = undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((res) => this.proc.once('exit', () => res()));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  private name(): string {
    return `bench child ${this.proc.spawnargs.slice(2, 3).join(' ')}`;
  }
}

/** Inside a child: reports to the parent and answers its commands. */
export function childChannel(onProgress: () => number, onStop: () => Promise<void>): (report: ConsumerReport) => void {
  if (!process.send) throw new Error('this file is a bench child: run it through `npm run bench:ingest`');
  const send = (r: ConsumerReport) => process.send!(r);
  process.on('message', (m: ConsumerCommand) => {
    if (m.type === 'progress') send({ type: 'progress', count: onProgress() });
    if (m.type === 'stop')
      void onStop().finally(() => {
        process.disconnect?.();
        process.exit(0);
      });
  });
  return send;
}

/** `--name value` pairs of a child's argv. */
export function argValue(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}
