import { loadConfigFile } from '../config/load.ts';

/**
 * The CLI's way to the API (`roomctl rooms`, `check`, `scene`, `meetings`): the URL
 * from --url, else ROOMCTL_URL, else the config's api section (--config), else
 * http://127.0.0.1:8080; the token from ROOMCTL_TOKEN (never from an argument, which
 * would land in the shell history and the process list).
 *
 * Exit codes: 0 done; 1 done but the answer is a failure (a scene not applied, a room
 * not ready); 2 refused or unreachable (no token, 4xx, 5xx, no service).
 */
export const EXIT = { ok: 0, failed: 1, refused: 2 } as const;

export interface ApiTarget {
  url: string;
  token?: string;
}

export interface TargetOptions {
  url?: string;
  config?: string;
}

export class CliApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export function apiTarget(opts: TargetOptions, env: NodeJS.ProcessEnv = process.env): ApiTarget {
  let url = opts.url ?? env.ROOMCTL_URL;
  if (!url && opts.config) {
    const api = loadConfigFile(opts.config, { env }).site?.config.api;
    if (api) url = `http://${api.host === '0.0.0.0' || api.host === '::' ? '127.0.0.1' : api.host}:${api.port}`;
  }
  return { url: (url ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''), token: env.ROOMCTL_TOKEN || undefined };
}

/** One API call; resolves with the JSON answer of a 2xx, throws CliApiError with the server's message otherwise. */
export async function apiCall<T>(target: ApiTarget, method: string, path: string, body?: unknown): Promise<T> {
  if (!target.token) throw new CliApiError('no API token: set ROOMCTL_TOKEN (create one with `roomctl token create --role …`)');
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10 * 60_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CliApiError(`cannot reach roomctl at ${target.url} (${cause}); is \`roomctl start\` running? (ROOMCTL_URL sets the address)`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = json as { message?: string; problems?: string[] } | undefined;
    const message = e?.problems && e.problems.length > 1 ? `invalid request:\n  ${e.problems.join('\n  ')}` : (e?.message ?? (text.slice(0, 200) || res.statusText));
    throw new CliApiError(`${res.status}: ${message}`, res.status);
  }
  return json as T;
}

/** Prints an error the way every API command does and returns its exit code. */
export function reportError(err: unknown, command: string): number {
  if (err instanceof CliApiError) {
    console.error(`roomctl ${command}: ${err.message}`);
    return EXIT.refused;
  }
  console.error(`roomctl ${command}: ${(err as Error).message ?? String(err)}`);
  return EXIT.refused;
}

/** Epoch ms → `YYYY-MM-DD HH:MM` in a time zone. */
export function localTime(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(ms);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

/** Columns padded to their widest cell (by code points, so 会议 lines up roughly). */
export function table(header: string[], rows: string[][]): string {
  const width = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(width[i]! - [...c].length))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
