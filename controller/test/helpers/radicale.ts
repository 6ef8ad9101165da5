import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './wait.ts';

/**
 * A real CalDAV server (Debian package `radicale`, 3.x) on 127.0.0.1 and a free port,
 * with a temporary storage folder and no authentication. A calendar is created by
 * PUTting a whole .ics onto a collection URL (Radicale splits it into items), and the
 * collection's URL is its iCalendar export — what a room calendar feed points at.
 */
export interface Radicale {
  url: string;
  /** Creates or replaces the calendar `name` with the .ics text; returns its export URL. */
  putCalendar(name: string, ics: string): Promise<string>;
  stop(): Promise<void>;
  log(): string;
}

const RADICALE = '/usr/bin/radicale';
const USER = 'roomctl';

export async function startRadicale(): Promise<Radicale> {
  if (!existsSync(RADICALE))
    throw new Error(`${RADICALE} is missing: these tests need a real CalDAV server. Run \`bash scripts/ensure-services.sh\` or \`apt-get install radicale\`.`);
  const dir = mkdtempSync(join(tmpdir(), 'roomctl-radicale-'));
  let child: ChildProcess | undefined;
  let output = '';
  let port = 0;
  // A port free a moment ago can be taken before radicale binds it: try fresh ports.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const conf = join(dir, 'config');
    writeFileSync(
      conf,
      [
        '[server]',
        `hosts = 127.0.0.1:${port}`,
        '[auth]',
        'type = none',
        '[rights]',
        // With auth "none" this lets the anonymous test client read and write everything.
        'type = authenticated',
        '[storage]',
        `filesystem_folder = ${join(dir, 'collections')}`,
        '[web]',
        'type = none',
        '[logging]',
        'level = warning',
        '',
      ].join('\n'),
    );
    const proc = spawn(RADICALE, ['--config', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const collect = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
    proc.stdout!.on('data', collect);
    proc.stderr!.on('data', collect);
    let exited = false;
    proc.once('exit', () => (exited = true));
    try {
      await waitFor(
        async () => {
          if (exited) throw new Error(`radicale exited during start-up:\n${output}`);
          const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'OPTIONS' }).catch(() => undefined);
          return res !== undefined;
        },
        30_000,
        `radicale to answer on port ${port}`,
        100,
      );
      break;
    } catch (err) {
      if (!exited) proc.kill('SIGKILL');
      if (attempt >= 3 || !/in use|Address already/i.test(output)) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  const url = `http://127.0.0.1:${port}`;
  const home = await fetch(`${url}/${USER}/`, { method: 'MKCOL' });
  if (home.status !== 201) throw new Error(`radicale: MKCOL /${USER}/ answered ${home.status}`);

  return {
    url,
    putCalendar: async (name, ics) => {
      const target = `${url}/${USER}/${name}/`;
      const res = await fetch(target, { method: 'PUT', headers: { 'content-type': 'text/calendar; charset=utf-8' }, body: ics });
      if (res.status !== 201 && res.status !== 204) throw new Error(`radicale: PUT ${name} answered ${res.status}: ${await res.text()}\n${output}`);
      return target;
    },
    stop: async () => {
      const proc = child;
      child = undefined;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}
