import { createServer } from 'node:net';

/**
 * Helpers for running the simulated building beside a controller in one process
 * on a stepped VirtualClock: a `settle()` for `clock.advance(ms, settle)`, and
 * free loopback ports for test configs.
 */

/** Anything whose network activity a settle should wait out. */
export interface QuietSource {
  /** A number that changes whenever the source sends or receives something. */
  activity(): number;
  /** Work in flight that will certainly complete (unacknowledged publishes, unanswered requests). */
  pending?(): number;
}

export interface QuietSettleOptions {
  /** Consecutive event-loop turns without any activity that count as quiet. Default 3. */
  quietTurns?: number;
  /** Give up waiting after this long (real ms) and carry on; a stuck peer must not hang a test. Default 10 000. */
  maxWaitMs?: number;
  /** Called when a settle gave up. */
  onGiveUp?: (pending: number) => void;
}

/** Turns with work in flight before a settle sleeps instead of spinning. */
const BUSY_TURNS_BEFORE_SLEEP = 50;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * "Let network I/O flow until quiet": returns once every source has had no
 * activity and nothing pending for `quietTurns` event-loop turns in a row. On
 * loopback, bytes written are readable by the peer at the next poll, so a turn
 * without activity means the exchange a timer started has run its course. A
 * batch that did no I/O at all costs only those few turns, so a day of
 * one-second timers still plays in seconds.
 *
 * Settled is counted, not slept: deliveryWatch() counts every request, answer,
 * message and command still on its way, and the loop spins turn by turn (no real
 * sleeping) while they land; nothing the devices do waits on a timer.
 *
 * Sources are typically the SimulatedBuilding and a counter of the controller's
 * bus events (point/device/command).
 */
export function quietSettle(sources: readonly (QuietSource | (() => number))[], options: QuietSettleOptions = {}): () => Promise<void> {
  const quietTurns = options.quietTurns ?? 3;
  const maxWaitMs = options.maxWaitMs ?? 10_000;
  const activity = () => {
    let sum = 0;
    for (const s of sources) sum += typeof s === 'function' ? s() : s.activity();
    return sum;
  };
  const pending = () => {
    let sum = 0;
    for (const s of sources) if (typeof s !== 'function') sum += s.pending?.() ?? 0;
    return sum;
  };
  // What a settle gave up on: counted in flight, yet never landed (an answer that came after
  // its request had timed out in real time on a starved machine, a message to a socket that
  // was closed). Later settles wait only for what is in flight above it, so one lost
  // message costs one give-up, not one per timer batch for the rest of the day.
  let lost = 0;
  const inFlight = () => {
    const n = pending();
    if (n < lost) lost = n;
    return n - lost;
  };
  return async () => {
    const started = Date.now();
    let quiet = 0;
    let busyTurns = 0;
    let mark = activity();
    while (quiet < quietTurns) {
      const busy = inFlight() > 0;
      busyTurns = busy ? busyTurns + 1 : 0;
      // Bytes on loopback arrive by the next poll, and the simulated devices answer in the
      // turn a request arrives (modbus-server.ts), so work in flight normally lands within
      // a few turns. Still in flight after many, it waits on a timer of a peer: sleep a
      // real millisecond rather than spin.
      if (busy && busyTurns > BUSY_TURNS_BEFORE_SLEEP) await pause(1);
      else await turn();
      const now = activity();
      if (!busy && inFlight() === 0 && now === mark) quiet++;
      else quiet = 0;
      mark = now;
      if (Date.now() - started > maxWaitMs) {
        const stuck = inFlight();
        lost += stuck;
        options.onGiveUp?.(stuck);
        return;
      }
    }
  };
}

/** What deliveryWatch() reads from the controller's adapters (structurally: no adapter import here). */
export interface MqttCounters {
  deliveries(): { received: number; commandsSent: number };
}
export interface ModbusCounters {
  exchanges(): { requests: number; completed: number };
}
export interface SimCounters {
  stats: { published: number; retainedTopics: number; commands: number; framesIn: number };
}

/**
 * Exact in-flight counts between the simulator and a controller whose MQTT
 * adapter subscribes to every device topic: every simulator publish must arrive
 * as one received message, every command sent must reach a device, every Modbus
 * request must reach the gateway. Quiet turns alone can be fooled by a socket
 * that holds a small write back (Nagle); counts cannot.
 *
 * Create it once the controller has subscribed (it then received each retained
 * topic once) and before the clock moves. A last will the broker publishes for a
 * device cut off on purpose (device_offline, device_reboot) is counted by the
 * simulator as that device's publish, so the count stays exact (an uncounted will
 * let a real reading slip into the next timer batch: runs with one seed differed).
 */
export function deliveryWatch(sim: SimCounters, mqtt?: MqttCounters, modbus?: ModbusCounters): QuietSource {
  const baseline = sim.stats.published - sim.stats.retainedTopics;
  const none = { requests: 0, completed: 0 };
  return {
    activity: () => {
      const m = mqtt?.deliveries();
      return (m ? m.received + m.commandsSent : 0) + (modbus?.exchanges() ?? none).requests;
    },
    pending: () => {
      // Requests the controller has not finished: on their way to a gateway, at it, or their
      // answers on the way back. A request to a silent unit (a fault) stays in flight until
      // its real-time timeout, so the unit is found silent at the virtual instant it was
      // asked, whatever the speed of the play (a faster day once let a 90 s reboot pass
      // unseen: 250 ms of real time was minutes of virtual time).
      const x = modbus?.exchanges() ?? none;
      let n = Math.max(0, x.requests - x.completed);
      if (mqtt) {
        const m = mqtt.deliveries();
        n += Math.max(0, sim.stats.published - baseline - m.received) + Math.max(0, m.commandsSent - sim.stats.commands);
      }
      return n;
    },
  };
}

/** A free TCP port on loopback (for Modbus gateways and brokers in test configs). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
