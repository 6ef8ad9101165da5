import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './wait.ts';

const MOSQUITTO = '/usr/sbin/mosquitto';

export interface Mosquitto {
  url: string;
  port: number;
  /** Folder of mosquitto.db when started with persistence. */
  dataDir: string;
  /** Stops the broker with `signal` and waits until the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (and the same persistence folder). */
  restart(): Promise<void>;
  /** Stops it if running and removes its temporary folder. */
  dispose(): Promise<void>;
  /** The broker's recent log lines, for failure messages. */
  log(): string;
}

export interface MosquittoOptions {
  /** Keep sessions and retained messages in mosquitto.db, saved after every change (survives SIGKILL). */
  persistence?: boolean;
}

/**
 * Starts a real Mosquitto on 127.0.0.1 and a free port, with a temporary config.
 * Tests need the real broker; a missing binary is a setup error, never a skip.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  if (!existsSync(MOSQUITTO))
    throw new Error(`${MOSQUITTO} is missing: these tests need a real Mosquitto. Run \`bash .ci/run\` (it installs the test peers) or \`apt-get install mosquitto\`.`);
  const dir = mkdtempSync(join(tmpdir(), 'roomctl-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice'];
  // Run as root, mosquitto would switch to the "mosquitto" user, which cannot write our temp folder.
  if (process.getuid?.() === 0) lines.push('user root');
  if (options.persistence) lines.push('persistence true', `persistence_location ${dir}/`, 'autosave_on_changes true', 'autosave_interval 1');
  writeFileSync(conf, `${lines.join('\n')}\n`);

  let child: ChildProcess | undefined;
  let output = '';
  const launch = async () => {
    const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
    let exited = false;
    proc.once('exit', () => (exited = true));
    await waitFor(
      async () => {
        if (exited) throw new Error(`mosquitto exited during start-up:\n${output}`);
        return canConnect(port);
      },
      15_000,
      `mosquitto to accept connections on port ${port}`,
      50,
    ).catch((err) => {
      if (!exited) proc.kill('SIGKILL');
      throw err;
    });
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await gone;
  };
  await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    dataDir: dir,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
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
