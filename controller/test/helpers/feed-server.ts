import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A plain HTTP server for calendar feeds, as a web server or Exchange's published
 * calendar serves them: each path has a body with a strong ETag and a Last-Modified,
 * and a request whose If-None-Match matches gets 304. A path can be switched to a
 * status code (500) or to any other body (a login page); the whole server can be
 * closed and reopened on the same port (connection refused in between).
 */
export type FeedRoute = { body: string; contentType?: string } | { status: number };

export interface FeedServer {
  url: string;
  port: number;
  set(path: string, route: FeedRoute): void;
  /** Every request seen: path, status answered, request headers. */
  requests: { path: string; status: number; headers: IncomingHttpHeaders }[];
  /** Stops listening and drops every connection (clients get "connection refused"). */
  close(): Promise<void>;
  /** Listens again on the same port. */
  reopen(): Promise<void>;
}

export async function startFeedServer(): Promise<FeedServer> {
  const routes = new Map<string, FeedRoute & { etag?: string; modified?: string }>();
  const requests: FeedServer['requests'] = [];
  const handler: RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes.get(path);
    const answer = (status: number, body = '', headers: Record<string, string> = {}) => {
      requests.push({ path, status, headers: req.headers });
      res.writeHead(status, headers).end(body);
    };
    if (!route) return answer(404, 'not found');
    if ('status' in route) return answer(route.status, 'server error');
    if (route.etag && req.headers['if-none-match'] === route.etag) return answer(304, '', { etag: route.etag });
    answer(200, route.body, { 'content-type': route.contentType ?? 'text/calendar; charset=utf-8', etag: route.etag!, 'last-modified': route.modified! });
  };
  let server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    set: (path, route) => {
      if ('body' in route) routes.set(path, { ...route, etag: `"${createHash('sha1').update(route.body).digest('hex')}"`, modified: new Date().toUTCString() });
      else routes.set(path, route);
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
    reopen: async () => {
      server = createServer(handler);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
    },
  };
}
