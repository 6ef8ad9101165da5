/**
 * One conditional GET of a calendar feed (Node's fetch): If-None-Match with the
 * last good ETag and If-Modified-Since with its Last-Modified, so an unchanged
 * Exchange or Google feed costs a 304. Servers that ignore both (Radicale answers a
 * GET with 200 every time) are caught one level up by comparing the body.
 *
 * The URL may hold a secret (Google's "secret address", a token in the query, or
 * user:password@): it is never logged or put in an error — only its host is.
 * Socket timeouts run on real time (model/clock.ts): they guard real I/O.
 */
export interface FeedRequest {
  url: string;
  headers?: Record<string, string>;
  etag?: string;
  lastModified?: string;
  timeoutMs: number;
  /** A larger body is refused unread (a feed is a few hundred kB at most). */
  maxBytes: number;
  /** Aborts the request when the feature stops. */
  signal?: AbortSignal;
}

export type FeedResponse = { status: 'not-modified' } | { status: 'ok'; body: string; etag?: string; lastModified?: string };

export class FeedFetchError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'timeout' | 'http' | 'too-large' | 'aborted',
    message: string,
  ) {
    super(message);
  }
}

/** `https://host/…` → `host`: what logs and alerts may say about a feed URL. */
export function feedHost(url: string): string {
  try {
    return new URL(url.replace(/^webcal:/i, 'https:')).host;
  } catch {
    return '(invalid URL)';
  }
}

/** webcal:// is https://; user:password@ becomes a Basic Authorization header (fetch refuses credentials in URLs). */
function prepare(url: string, headers: Record<string, string>): { url: string; headers: Record<string, string> } {
  const u = new URL(url.replace(/^webcal:/i, 'https:'));
  const out: Record<string, string> = { accept: 'text/calendar, text/plain;q=0.8, */*;q=0.5', 'user-agent': 'roomctl calendar feed', ...headers };
  if (u.username || u.password) {
    const has = Object.keys(out).some((k) => k.toLowerCase() === 'authorization');
    if (!has) out.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  return { url: u.toString(), headers: out };
}

export async function fetchFeed(req: FeedRequest): Promise<FeedResponse> {
  const host = feedHost(req.url);
  let prepared: ReturnType<typeof prepare>;
  try {
    prepared = prepare(req.url, req.headers ?? {});
  } catch {
    throw new FeedFetchError('unreachable', 'the feed URL is not valid');
  }
  if (req.etag) prepared.headers['if-none-match'] = req.etag;
  if (req.lastModified) prepared.headers['if-modified-since'] = req.lastModified;
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(prepared.url, { headers: prepared.headers, signal, redirect: 'follow' });
  } catch (err) {
    throw failure(err, host, req, timeout);
  }
  try {
    if (res.status === 304) return { status: 'not-modified' };
    if (!res.ok) throw new FeedFetchError('http', `${host} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > req.maxBytes) throw new FeedFetchError('too-large', `${host} sent ${declared} bytes; at most ${req.maxBytes} are read`);
    const body = await readCapped(res, req.maxBytes, host);
    const out: FeedResponse = { status: 'ok', body };
    const etag = res.headers.get('etag');
    const lastModified = res.headers.get('last-modified');
    if (etag) out.etag = etag;
    if (lastModified) out.lastModified = lastModified;
    return out;
  } catch (err) {
    if (err instanceof FeedFetchError) throw err;
    throw failure(err, host, req, timeout);
  } finally {
    // An unread body would hold the connection open.
    if (!res.bodyUsed) await res.body?.cancel().catch(() => {});
  }
}

async function readCapped(res: Response, maxBytes: number, host: string): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new FeedFetchError('too-large', `${host} sent more than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8').decode(Buffer.concat(chunks));
}

function failure(err: unknown, host: string, req: FeedRequest, timeout: AbortSignal): FeedFetchError {
  if (timeout.aborted) return new FeedFetchError('timeout', `${host} did not answer within ${Math.round(req.timeoutMs / 1000)} s`);
  if (req.signal?.aborted) return new FeedFetchError('aborted', 'stopped');
  // undici puts the socket error (ECONNREFUSED, ENOTFOUND, …) in `cause`; its message may quote the URL, the code does not.
  const cause = (err as { cause?: { code?: string } }).cause;
  return new FeedFetchError('unreachable', `${host} is unreachable (${cause?.code ?? (err as Error).name})`);
}
