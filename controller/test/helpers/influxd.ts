import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './wait.ts';

/**
 * A real influxd (Debian package `influxdb`, 1.6) on free ports with its own temporary
 * meta/data/wal directories and a generated config: no usage reporting, no _internal
 * monitor database, RPC bound to 127.0.0.1 too. stop()/start() keep the same ports and
 * data, so a test can take InfluxDB away for a stretch and bring it back.
 */
export interface Influxd {
  url: string;
  port: number;
  dir: string;
  /** Starts it again on the same ports and data (after stop()). */
  start(): Promise<void>;
  /** SIGTERM, and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops it and deletes its directory. */
  cleanup(): Promise<void>;
  running(): boolean;
  /** Its log, for a failing test's message. */
  log(): string;
}

const CANDIDATES = ['/usr/bin/influxd', '/usr/local/bin/influxd'];

export function influxdBinary(): string {
  for (const path of [process.env.INFLUXD, ...CANDIDATES]) {
    if (!path) continue;
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      /* next */
    }
  }
  throw new Error('influxd (InfluxDB 1.x) is not installed: run `apt-get install influxdb` (or `bash scripts/ensure-services.sh`), or set INFLUXD to its path');
}

function config(dir: string, httpPort: number, rpcPort: number): string {
  return `reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
  logging-enabled = false
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
`;
}

export async function startInfluxd(): Promise<Influxd> {
  const binary = influxdBinary();
  const dir = mkdtempSync(join(tmpdir(), 'roomctl-influxd-'));
  let child: ChildProcess | undefined;
  let port = 0;
  const logFile = join(dir, 'influxd.log');
  const conf = join(dir, 'influxdb.conf');

  const launch = async () => {
    const out = openSync(logFile, 'a');
    const proc = spawn(binary, ['-config', conf], { stdio: ['ignore', out, out], env: { ...process.env, INFLUXDB_CONFIG_PATH: conf } });
    closeSync(out);
    child = proc;
    let exited = false;
    proc.once('exit', () => (exited = true));
    await waitFor(
      async () => {
        if (exited) throw new Error(`influxd exited at start:\n${tail(logFile)}`);
        const res = await fetch(`http://127.0.0.1:${port}/ping`).catch(() => undefined);
        return res?.status === 204;
      },
      60_000,
      'influxd to answer /ping',
      100,
    ).catch((err: Error) => {
      proc.kill('SIGKILL');
      throw err;
    });
  };

  // A port free a moment ago can be taken before influxd binds it: try fresh ports.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const rpc = await freePort();
    writeFileSync(conf, config(dir, port, rpc));
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test((err as Error).message)) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  const stop = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await gone;
    clearTimeout(timer);
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    start: async () => {
      if (child && child.exitCode === null && child.signalCode === null) return;
      await launch();
    },
    stop,
    cleanup: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    log: () => tail(logFile),
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}
