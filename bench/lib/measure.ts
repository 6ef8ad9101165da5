import { ConsumerChild, wallNow } from './child.ts';
import { cpuSeconds } from './cpu.ts';
import type { BenchBroker } from './mosquitto.ts';
import { startNodeRed } from './node-red.ts';
import type { BenchPublisher } from './publisher.ts';
import { waitFor } from '../../controller/test/helpers/wait.ts';

/**
 * How a run is timed:
 * - `live`: the consumer reads while the publisher writes; time = first publish →
 *   last message done. This is the figure the targets are about; it includes the
 *   broker's own work, which on 2 cores caps any consumer near Mosquitto's pace.
 * - `queued`: the consumer process is frozen (SIGSTOP) while every message is
 *   published and Mosquitto has queued them all, then thawed; time = thaw → last
 *   message done. Mosquitto then only writes, so the figure shows what the
 *   consumer itself can take.
 */
export type Mode = 'live' | 'queued';

export interface RunSetup {
  broker: BenchBroker;
  publisher: BenchPublisher;
  /** Every message of the run as PUBLISH packets. */
  encoded: Buffer;
  total: number;
  timeoutMs: number;
}

export interface Result {
  name: string;
  mode: Mode;
  rate: number;
  seconds: number;
  /** Seconds from first publish until the publisher had written everything. */
  publisherSeconds: number;
  /** CPU seconds used during the run by the consumer and by Mosquitto. */
  consumerCpu: number;
  brokerCpu: number;
  problems: string[];
}

/** A consumer that is up and subscribed. */
export interface Consumer {
  name: string;
  pid: number | undefined;
  /** When the last of `total` messages was done (wall clock ms), and anything that makes the count doubtful. */
  waitDone(total: number, timeoutMs: number): Promise<{ doneAt: number; problems: string[] }>;
  stop(): Promise<void>;
}

/** A bench/lib child (bare-consumer.ts, roomctl-consumer.ts) that reports over IPC. */
export async function childConsumer(name: string, file: string, args: string[], execArgv: string[] = []): Promise<Consumer> {
  const child = new ConsumerChild(file, args, execArgv);
  try {
    await child.next('ready', 120_000);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    name,
    pid: child.pid,
    waitDone: async (total, timeoutMs) => {
      try {
        const done = await child.next('done', timeoutMs);
        return { doneAt: done.doneAt, problems: done.problems };
      } catch (err) {
        child.send({ type: 'progress' });
        const p = await child.next('progress', 5000).catch(() => undefined);
        throw new Error(`${name}: ${(err as Error).message}; it had done ${p?.count ?? '?'} of ${total} messages`);
      }
    },
    stop: () => child.stop(),
  };
}

/** Node-RED 4 running the peer flow, once it has subscribed (a probe message went through). */
export async function nodeRedConsumer(setup: RunSetup): Promise<Consumer> {
  const red = await startNodeRed(setup.broker.port);
  try {
    await waitFor(
      async () => {
        setup.publisher.send('bench/probe', '{"probe":true}');
        return (await red.counts()).probed;
      },
      60_000,
      'Node-RED to subscribe',
      250,
    );
  } catch (err) {
    await red.stop();
    throw err;
  }
  return {
    name: 'Node-RED 4 (mqtt in → function)',
    pid: red.pid,
    waitDone: async (total, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      let c = await red.counts();
      while (c.count < total) {
        if (Date.now() > deadline) throw new Error(`Node-RED processed ${c.count} of ${total} messages within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
        c = await red.counts();
      }
      const problems = c.count > total ? [`counted ${c.count} messages, ${total} were sent`] : [];
      if (c.bad > 0) problems.push(`${c.bad} readings failed the range check`);
      return { doneAt: c.last, problems };
    },
    stop: () => red.stop(),
  };
}

/** Starts a consumer, publishes the run to it in `mode`, and stops it again. */
export async function measure(start: () => Promise<Consumer>, mode: Mode, setup: RunSetup): Promise<Result> {
  const { broker, publisher, encoded, total } = setup;
  const consumer = await start();
  let frozen = false;
  try {
    const cpu0 = [cpuSeconds(consumer.pid), cpuSeconds(broker.pid)];
    if (mode === 'queued') frozen = signal(consumer.pid, 'SIGSTOP');
    const { firstAt, writtenAt } = await publisher.publishAll(encoded);
    let startAt = firstAt;
    if (frozen) {
      await brokerIdle(broker.pid);
      startAt = wallNow();
      signal(consumer.pid, 'SIGCONT');
      frozen = false;
    }
    const done = await consumer.waitDone(total, setup.timeoutMs);
    const seconds = (done.doneAt - startAt) / 1000;
    return {
      name: consumer.name,
      mode,
      rate: total / seconds,
      seconds,
      publisherSeconds: (writtenAt - firstAt) / 1000,
      consumerCpu: cpuSeconds(consumer.pid) - cpu0[0]!,
      brokerCpu: cpuSeconds(broker.pid) - cpu0[1]!,
      problems: done.problems,
    };
  } finally {
    if (frozen) signal(consumer.pid, 'SIGCONT');
    await consumer.stop();
  }
}

function signal(pid: number | undefined, sig: NodeJS.Signals): boolean {
  if (pid === undefined) throw new Error(`cannot send ${sig}: the consumer has no process id`);
  process.kill(pid, sig);
  return true;
}

/** Waits until Mosquitto has taken in everything: its CPU time stops growing. */
async function brokerIdle(pid: number | undefined): Promise<void> {
  let last = cpuSeconds(pid);
  for (let quiet = 0; quiet < 2; ) {
    await new Promise((r) => setTimeout(r, 150));
    const now = cpuSeconds(pid);
    quiet = now - last < 0.015 ? quiet + 1 : 0;
    last = now;
  }
}
