import { loadConfigFile } from '../config/load.ts';
import { FAULT_KINDS, sendFault, simControlUrl } from '../../../devices/sim/building.ts';
import { DEMO_CONFIG } from './demo.ts';

/**
 * `roomctl sim fault ROOM KIND [--clear]`: talks to the running simulator's control API.
 * `roomctl sim fault --list`: the fault kinds and what each does (no simulator needed).
 */
export async function simFaultCommand(room: string | undefined, kind: string | undefined, opts: { clear?: boolean; config?: string; url?: string; list?: boolean }): Promise<number> {
  if (opts.list) {
    process.stdout.write(faultKindList());
    return 0;
  }
  if (!room || !kind) {
    console.error('roomctl sim fault: give ROOM and KIND (e.g. roomctl sim fault 3F-301 dead_mic:2), or --list for the fault kinds');
    return 2;
  }
  let url = opts.url;
  if (!url) {
    const loaded = loadConfigFile(opts.config ?? DEMO_CONFIG);
    if (!loaded.site) {
      for (const e of loaded.errors) console.error(e);
      return 1;
    }
    url = simControlUrl(loaded.site);
  }
  try {
    const fault = await sendFault(url, room, kind, !!opts.clear);
    console.log(`${opts.clear ? 'cleared' : 'injected'} ${fault.kind}${fault.target ? `:${fault.target}` : ''} in ${fault.room}`);
    return 0;
  } catch (err) {
    const message = (err as Error).message;
    console.error(`roomctl sim fault: ${message}`);
    if (/ECONNREFUSED|fetch failed/.test(message)) console.error(`is the simulation running (npm start)? its control API is ${url}`);
    else console.error(`fault kinds: ${Object.keys(FAULT_KINDS).join(', ')} (roomctl sim fault --list describes them)`);
    return 1;
  }
}

/** One line per fault kind: the name, then its description. */
export function faultKindList(): string {
  const kinds = Object.entries(FAULT_KINDS);
  const width = Math.max(...kinds.map(([k]) => k.length));
  return `${kinds.map(([k, description]) => `${k.padEnd(width)}  ${description}`).join('\n')}\n`;
}
