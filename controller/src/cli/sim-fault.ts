import { loadConfigFile } from '../config/load.ts';
import { FAULT_KINDS, sendFault, simControlUrl } from '../../../devices/sim/building.ts';
import { DEMO_CONFIG } from './demo.ts';

/** `roomctl sim fault ROOM KIND [--clear]`: talks to the running simulator's control API. */
export async function simFaultCommand(room: string, kind: string, opts: { clear?: boolean; config?: string; url?: string }): Promise<number> {
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
    else console.error(`fault kinds: ${Object.keys(FAULT_KINDS).join(', ')}`);
    return 1;
  }
}
