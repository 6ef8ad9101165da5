import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAULT_KINDS, FaultError, type ActiveFault } from './faults.ts';

/**
 * The simulator's own control API, on loopback only: `POST /faults
 * {room, kind, clear}` injects or clears a fault, `GET /faults` lists the active
 * ones and the known kinds. `roomctl sim fault ROOM KIND [--clear]` calls it
 * through sendFault().
 */
export interface FaultTarget {
  injectFault(room: string, kind: string, clear?: boolean): ActiveFault;
  faults(): ActiveFault[];
}

const MAX_BODY = 64 * 1024;

export class SimControlApi {
  private server: Server | undefined;

  constructor(
    private target: FaultTarget,
    private port: number,
    private host = '127.0.0.1',
  ) {}

  /** Listens; resolves with the base URL (port 0 → a free port). */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => reply(res, 500, { error: String((err as Error)?.message ?? err) }));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`simulator control API cannot listen on ${this.host}:${this.port}: ${err.message}`)));
      server.listen(this.port, this.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return `http://${this.host}:${port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/faults') return reply(res, 404, { error: 'not found; use GET or POST /faults' });
    if (req.method === 'GET') return reply(res, 200, { faults: this.target.faults(), kinds: FAULT_KINDS });
    if (req.method !== 'POST') return reply(res, 405, { error: 'use GET or POST' });
    let text = '';
    for await (const chunk of req) {
      text += chunk;
      if (text.length > MAX_BODY) return reply(res, 413, { error: 'body too large' });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return reply(res, 400, { error: 'body must be JSON: {"room": "...", "kind": "...", "clear": false}' });
    }
    const { room, kind, clear } = (body ?? {}) as Record<string, unknown>;
    if (typeof room !== 'string' || typeof kind !== 'string' || (clear !== undefined && typeof clear !== 'boolean'))
      return reply(res, 400, { error: 'expected {"room": string, "kind": string, "clear"?: boolean}' });
    try {
      const fault = this.target.injectFault(room, kind, clear === true);
      return reply(res, 200, { fault, cleared: clear === true, faults: this.target.faults() });
    } catch (err) {
      if (err instanceof FaultError) return reply(res, 400, { error: err.message });
      throw err;
    }
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Client side of the control API (the CLI): injects or clears one fault; throws with the simulator's reason. */
export async function sendFault(url: string, room: string, kind: string, clear = false): Promise<ActiveFault> {
  let res: Response;
  try {
    res = await fetch(new URL('/faults', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ room, kind, clear }) });
  } catch (err) {
    throw new Error(`cannot reach the simulator at ${url} (is roomctl running with --simulate?): ${(err as Error).cause ?? (err as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as { fault?: ActiveFault; error?: string };
  if (!res.ok || !body.fault) throw new Error(body.error ?? `simulator answered HTTP ${res.status}`);
  return body.fault;
}

/** Active faults of a running simulator. */
export async function listFaults(url: string): Promise<ActiveFault[]> {
  const res = await fetch(new URL('/faults', url));
  const body = (await res.json()) as { faults?: ActiveFault[] };
  return body.faults ?? [];
}
