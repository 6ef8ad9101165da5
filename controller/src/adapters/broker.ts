import { createServer, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { ErrorCode, RoomctlError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 = any free port (tests). */
  port: number;
  /** When both are given, every client must present them. */
  username?: string;
  password?: string;
  logger: Logger;
}

export interface EmbeddedBroker {
  /** mqtt://host:port, ready to hand to the MQTT adapter. */
  url: string;
  port: number;
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
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      if (options.username === undefined && options.password === undefined) return done(null, true);
      const ok = username === options.username && (password?.toString('utf8') ?? '') === (options.password ?? '');
      if (ok) return done(null, true);
      logger.warn({ client: client?.id }, 'embedded broker: a client gave a wrong username or password');
      // 4 = CONNACK "bad user name or password" (aedes's AuthErrorCode is a type-only const enum).
      const err = Object.assign(new Error('bad username or password'), { returnCode: 4 });
      done(err as Parameters<typeof done>[0], false);
    },
  });
  // aedes handles the packets of one TCP read concurrently, and a retained publish waits
  // for the retained store while a plain publish right behind it does not. The plain one
  // is emitted first although it was numbered later, and aedes's per-client
  // de-duplication (meant for overlapping subscriptions, keyed on that number) then
  // silently drops the retained one (aedes issue #955): a device's retained "online"
  // followed by its state would be lost. Numbering packets when they are emitted keeps
  // the numbers in delivery order, so only true duplicates are dropped.
  const internals = broker as unknown as { counter: number; mq: { emit: (packet: { brokerCounter?: number }, cb?: () => void) => void } };
  const emit = internals.mq.emit.bind(internals.mq);
  internals.mq.emit = (packet, cb) => {
    packet.brokerCounter = ++internals.counter;
    emit(packet, cb);
  };
  // A device sending garbage on the wire is its problem, not the broker's: log and go on.
  broker.on('clientError', (client, err) => logger.debug({ client: client?.id, err: err.message }, 'embedded broker: client error'));
  broker.on('connectionError', (client, err) => logger.debug({ client: client?.id, err: err.message }, 'embedded broker: connection error'));

  // aedes only knows clients that finished CONNECT; half-open sockets are tracked here
  // so close() can end them too and nothing keeps the event loop alive.
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    broker.handle(socket);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new RoomctlError(
        ErrorCode.BrokerPortInUse,
        `port ${options.port} is already in use (another MQTT broker?). Set mqtt.broker.port in the config to a free port, or set mqtt.url to use that broker instead.`,
        { host, port: options.port },
      );
    throw new RoomctlError(ErrorCode.BrokerPortInUse, `the embedded MQTT broker cannot listen on ${host}:${options.port}: ${(err as Error).message}`, {
      host,
      port: options.port,
      code,
    });
  }
  server.on('error', (err) => logger.error({ err: err.message }, 'embedded broker: listener error'));

  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  logger.info({ host, port }, 'embedded MQTT broker listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await listenerClosed;
    })());

  return { url: `mqtt://${urlHost}:${port}`, port, close };
}
