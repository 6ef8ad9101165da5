import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type Client } from 'aedes';
import { ErrorCode, RoomctlError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { mayPublish, maySubscribe, verifyPassword, type BrokerAuth, type BrokerLogin } from './broker-auth.ts';
import { PacketSizeGuard } from './broker-guard.ts';

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 = any free port (tests). */
  port: number;
  /**
   * Who may connect and what each login may publish and subscribe to. The service
   * always gives it; without it (bare brokers in tests and benches) the broker is open.
   */
  auth?: BrokerAuth;
  /** Shorthand for a single login with every permission (older callers and tests). */
  username?: string;
  password?: string;
  /** Client ids only one login may use (roomctl's own), so no device can take over its session. */
  reservedClientIds?: Record<string, string>;
  /** A packet larger than this closes its connection before it is buffered (default 256 KiB). */
  maxPacketBytes?: number;
  /** Retained topics one login may hold (default 2000) and all together (default 100,000). */
  maxRetainedPerClient?: number;
  maxRetainedTotal?: number;
  /** New connections accepted per second from one address (default 200). */
  maxConnectionsPerSecond?: number;
  /**
   * TCP_NODELAY on every client socket, for a simulated day only (`roomctl sim run`): on
   * loopback Nagle holds each small packet for the ACK of the one before (up to 40 ms of
   * delayed ACK), which a day on virtual time spends most of its wall time waiting for.
   * Not on site: with it, security-broker.test.ts sometimes hangs waiting for a refused
   * client's close or a PUBACK (not understood yet; see the note where it is set).
   */
  noDelay?: boolean;
  /** A TLS listener beside the plain one (mqtts). `plain: false` → no plain listener. */
  tls?: { host?: string; port: number; cert: string; key: string; ca?: string; requireClientCert?: boolean };
  plain?: boolean;
  logger: Logger;
}

export interface EmbeddedBroker {
  /** mqtt://host:port (or mqtts:// when TLS only), ready to hand to the MQTT adapter. */
  url: string;
  port: number;
  /** mqtts://host:port of the TLS listener, when there is one. */
  tlsUrl?: string;
  tlsPort?: number;
  /** Counters of what the broker refused. */
  refused: { logins: number; publishes: number; subscriptions: number; oversized: number; retained: number; rateLimited: number };
  /** Closes every client connection and the listener, so the process can exit. */
  close(): Promise<void>;
}

/**
 * The broker roomctl runs itself when the config has no `mqtt.url` (aedes, in
 * process). It is meant for the demo and small sites; a building with many
 * devices should point roomctl at its own Mosquitto/EMQX instead.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { host, logger } = options;
  const refused = { logins: 0, publishes: 0, subscriptions: 0, oversized: 0, retained: 0, rateLimited: 0 };
  const auth = options.auth ?? (options.username !== undefined ? { logins: [{ username: options.username, password: options.password ?? '', publish: 'all' as const, subscribe: 'all' as const }] } : undefined);
  const logins = new Map<string, BrokerLogin>((auth?.logins ?? []).map((l) => [l.username, l]));
  const anonymous: BrokerLogin = { username: '', publish: 'all', subscribe: 'all' };
  const loginOf = new WeakMap<Client, BrokerLogin>();
  const reserved = options.reservedClientIds ?? {};
  const maxPerClient = options.maxRetainedPerClient ?? 2000;
  const maxTotal = options.maxRetainedTotal ?? 100_000;
  /** Retained topic → the login that holds it (an empty retained payload deletes it). */
  const retained = new Map<string, string>();
  const retainedBy = new Map<string, number>();
  const fail = (returnCode: number, message: string) => Object.assign(new Error(message), { returnCode });
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      type Done = Parameters<typeof done>[0];
      if (!auth) return done(null, true);
      const deny = (why: string, code = 4) => {
        refused.logins++;
        logger.warn({ client: client?.id, username, why }, 'embedded broker: login refused');
        done(fail(code, why) as Done, false);
      };
      if (username === undefined || username === '') {
        if (!auth.allowAnonymous) return deny('anonymous clients are not allowed', 5);
        loginOf.set(client, anonymous);
        return done(null, true);
      }
      const login = logins.get(username);
      if (!login) return deny('unknown username');
      const owner = reserved[client.id];
      if (owner !== undefined && owner !== username) return deny(`client id ${client.id} is reserved`, 2);
      verifyPassword(login, password).then(
        (ok) => {
          if (!ok) return deny('wrong password');
          loginOf.set(client, login);
          done(null, true);
        },
        () => deny('password check failed'),
      );
    },
    authorizePublish: (client, packet, done) => {
      if (packet.topic.startsWith('$SYS/')) return done(new Error('$SYS/ topics are reserved'));
      // client null: aedes publishes a stale last will; it passed this check when it was set.
      const login = client ? (auth ? loginOf.get(client) : anonymous) : anonymous;
      if (!login || (client && !mayPublish(login, packet.topic))) {
        refused.publishes++;
        logger.warn({ client: client?.id, username: login?.username, topic: packet.topic }, 'embedded broker: publish refused (not this login\'s topic)');
        return done(new Error(`not allowed to publish to ${packet.topic}`));
      }
      // roomctl's own login (everything allowed) is not capped: its retained topics are
      // bounded by the config (state, readiness, scene per room, discovery configs).
      if (packet.retain && login.publish !== 'all') {
        const holder = login.username;
        const had = retained.get(packet.topic);
        if (packet.payload.length === 0) {
          if (had !== undefined) {
            retained.delete(packet.topic);
            retainedBy.set(had, (retainedBy.get(had) ?? 1) - 1);
          }
        } else if (had === undefined) {
          const mine = retainedBy.get(holder) ?? 0;
          if (mine >= maxPerClient || retained.size >= maxTotal) {
            refused.retained++;
            logger.warn({ client: client?.id, username: holder, topic: packet.topic, mine, total: retained.size }, 'embedded broker: retained message refused (limit reached)');
            return done(new Error('retained message limit reached'));
          }
          retained.set(packet.topic, holder);
          retainedBy.set(holder, mine + 1);
        }
      }
      done(null);
    },
    authorizeSubscribe: (client, sub, done) => {
      const login = auth ? loginOf.get(client) : anonymous;
      if (!login || !maySubscribe(login, sub.topic)) {
        refused.subscriptions++;
        logger.warn({ client: client?.id, username: login?.username, filter: sub.topic }, 'embedded broker: subscription refused (not this login\'s topics)');
        return done(null, null);
      }
      done(null, sub);
    },
  });
  // aedes handles the packets of one TCP read concurrently, and a retained publish waits
  // for the retained store while a plain publish right behind it does not. The plain one
  // is emitted first although it was numbered later, and aedes's per-client
  // de-duplication (meant for overlapping subscriptions, keyed on that number) then
  // silently drops the retained one (aedes issue #955): a device's retained "online"
  // followed by its state would be lost. Numbering packets when they are emitted keeps
  // the numbers in delivery order, so only true duplicates are dropped.
  // A QoS 1 packet is copied into the persistent sessions' queues (enqueueOffline) just
  // before it is emitted, keyed by that number: it is numbered there, so the queued copy
  // and the delivered packet agree (otherwise aedes answers the PUBACK of a persistent
  // session with "no such packet" and drops the client).
  type Numbered = { brokerCounter?: number };
  const internals = broker as unknown as {
    counter: number;
    mq: { emit: (packet: Numbered, cb?: () => void) => void };
    persistence: { outgoingEnqueueCombi: (subs: unknown[], packet: Numbered) => Promise<void> };
  };
  const numbered = new WeakSet<Numbered>();
  const number = (packet: Numbered) => {
    if (numbered.has(packet)) return;
    packet.brokerCounter = ++internals.counter;
    numbered.add(packet);
  };
  const emit = internals.mq.emit.bind(internals.mq);
  internals.mq.emit = (packet, cb) => {
    number(packet);
    emit(packet, cb);
  };
  const enqueue = internals.persistence.outgoingEnqueueCombi.bind(internals.persistence);
  internals.persistence.outgoingEnqueueCombi = (subs, packet) => {
    number(packet);
    return enqueue(subs, packet);
  };
  // A device sending garbage on the wire is its problem, not the broker's: log and go on.
  broker.on('clientError', (client, err) => logger.debug({ client: client?.id, err: err.message }, 'embedded broker: client error'));
  broker.on('connectionError', (client, err) => logger.debug({ client: client?.id, err: err.message }, 'embedded broker: connection error'));

  // aedes only knows clients that finished CONNECT; half-open sockets are tracked here
  // so close() can end them too and nothing keeps the event loop alive.
  const sockets = new Set<Socket>();
  const maxPacket = options.maxPacketBytes ?? 256 * 1024;
  const perSecond = options.maxConnectionsPerSecond ?? 200;
  /** Per address: a token bucket of `perSecond` new connections, refilled continuously. */
  const buckets = new Map<string, { tokens: number; at: number }>();
  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (options.noDelay) socket.setNoDelay(true);
    const from = socket.remoteAddress ?? '';
    const now = Date.now();
    if (buckets.size > 10_000) buckets.clear();
    const bucket = buckets.get(from) ?? { tokens: perSecond, at: now };
    bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.at) * perSecond) / 1000);
    bucket.at = now;
    buckets.set(from, bucket);
    if (bucket.tokens < 1) {
      refused.rateLimited++;
      logger.warn({ from }, 'embedded broker: too many new connections from one address; closing this one');
      socket.destroy();
      return;
    }
    bucket.tokens -= 1;
    const guard = new PacketSizeGuard(socket, maxPacket, (size) => {
      refused.oversized++;
      logger.warn({ from, size, max: maxPacket }, 'embedded broker: packet larger than mqtt.broker.max_packet_bytes; connection closed');
    });
    broker.handle(guard);
  };
  const server = createServer(accept);
  const listen = async (srv: Server, port: number, listenHost: string) => {
    try {
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, listenHost, () => {
          srv.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE')
        throw new RoomctlError(
          ErrorCode.BrokerPortInUse,
          `port ${port} is already in use (another MQTT broker?). Set mqtt.broker.port in the config to a free port, or set mqtt.url to use that broker instead.`,
          { host: listenHost, port },
        );
      throw new RoomctlError(ErrorCode.BrokerPortInUse, `the embedded MQTT broker cannot listen on ${listenHost}:${port}: ${(err as Error).message}`, { host: listenHost, port, code });
    }
    srv.on('error', (err) => logger.error({ err: err.message }, 'embedded broker: listener error'));
    const address = srv.address();
    return typeof address === 'object' && address ? address.port : port;
  };
  const servers: Server[] = [];
  const urlHostOf = (h: string) => (h.includes(':') ? `[${h}]` : h === '0.0.0.0' ? '127.0.0.1' : h);
  let port = options.port;
  if (options.plain !== false) {
    port = await listen(server, options.port, host);
    servers.push(server);
    logger.info({ host, port }, 'embedded MQTT broker listening');
  }
  let tlsUrl: string | undefined;
  let tlsPort: number | undefined;
  if (options.tls) {
    const t = options.tls;
    const read = (f: string, what: string) => {
      try {
        return readFileSync(f);
      } catch (err) {
        throw new RoomctlError(ErrorCode.BrokerPortInUse, `the embedded MQTT broker cannot read its TLS ${what} ${f}: ${(err as Error).message}`, { file: f });
      }
    };
    const tlsServer = createTlsServer(
      { cert: read(t.cert, 'certificate'), key: read(t.key, 'key'), ca: t.ca ? read(t.ca, 'CA') : undefined, requestCert: !!t.requireClientCert, rejectUnauthorized: !!t.requireClientCert },
      (socket) => accept(socket),
    );
    tlsServer.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'embedded broker: TLS handshake failed'));
    const tlsHost = t.host ?? host;
    try {
      tlsPort = await listen(tlsServer as unknown as Server, t.port, tlsHost);
    } catch (err) {
      for (const srv of servers) srv.close();
      throw err;
    }
    servers.push(tlsServer as unknown as Server);
    tlsUrl = `mqtts://${urlHostOf(tlsHost)}:${tlsPort}`;
    logger.info({ host: tlsHost, port: tlsPort }, 'embedded MQTT broker listening on TLS');
  }
  const urlHost = urlHostOf(host);
  const url = options.plain === false && tlsUrl ? tlsUrl : `mqtt://${urlHost}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const listenersClosed = Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await listenersClosed;
    })());

  return { url, port: options.plain === false && tlsPort !== undefined ? tlsPort : port, tlsUrl, tlsPort, refused, close };
}
