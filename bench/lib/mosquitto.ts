import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../../controller/test/helpers/wait.ts';

const MOSQUITTO = '/usr/sbin/mosquitto';

export interface BenchBroker {
  url: string;
  port: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * A real Mosquitto on 127.0.0.1 and a free port, configured for a throughput run.
 * `max_queued_messages 0` matters: by default Mosquitto 2 silently drops QoS 0
 * messages to a subscriber once 1000 packets wait for its socket, so a consumer
 * slower than the publisher would lose messages instead of being measured.
 */
export async function startBenchBroker(options: { tcpNoDelay?: boolean } = {}): Promise<BenchBroker> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: the bench needs a real Mosquitto (apt-get install mosquitto, or bash .ci/run)`);
  const dir = mkdtempSync(join(tmpdir(), 'roomctl-bench-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'max_queued_messages 0', 'max_queued_bytes 0', 'log_dest stderr', 'log_type error', 'log_type warning'];
  if (process.getuid?.() === 0) lines.push('user root');
  // A latency run (bench:scene) wants each small packet sent at once, not held back by Nagle's algorithm.
  if (options.tcpNoDelay) lines.push('set_tcp_nodelay true');
  writeFileSync(conf, `${lines.join('\n')}\n`);
  const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  proc.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(
    () => {
      if (gone) throw new Error(`mosquitto exited during start-up:\n${output}`);
      return canConnect(port);
    },
    15_000,
    `mosquitto on port ${port}`,
    50,
  );
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid: proc.pid,
    stop: async () => {
      if (!gone) {
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
