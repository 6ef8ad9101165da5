import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { wallNow } from './child.ts';
import type { Message } from './telemetry.ts';

const CHUNK_BYTES = 16 * 1024;

/**
 * The one publisher every consumer is measured against: one MQTT 3.1.1 connection
 * over a plain socket, every message pre-encoded as a QoS 0 PUBLISH packet before the
 * clock starts, then written in a tight loop of 16 KB chunks. Backpressure: when
 * write() says the socket buffer is full, the loop waits for 'drain'. Encoding the
 * packets up front (instead of mqtt.js publish() per message) keeps the publisher's
 * own CPU out of what is measured: on 2 cores it would otherwise compete with the
 * broker and the consumer and flatten the differences between consumers.
 */
export class BenchPublisher {
  /** Settles when the connection closes; raced against 'drain' so a dead broker cannot hang the run. */
  private readonly closed: Promise<unknown>;

  private constructor(private readonly socket: Socket) {
    this.closed = once(socket, 'close').catch(() => undefined);
  }

  static async connect(port: number): Promise<BenchPublisher> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await once(socket, 'connect');
    socket.write(connectPacket(`bench-publisher-${process.pid}`));
    const [connack] = (await once(socket, 'data')) as [Buffer];
    if (connack[0] !== 0x20 || connack[3] !== 0) throw new Error(`the broker refused the bench publisher (CONNACK ${connack.toString('hex')})`);
    // Nothing else arrives for a QoS 0 publisher with keepalive off; keep reading anyway.
    socket.on('data', () => {});
    return new BenchPublisher(socket);
  }

  /** All messages as one stream of PUBLISH packets, to be written by publishAll. */
  static encode(messages: readonly Message[]): Buffer {
    return Buffer.concat(messages.map((m) => publishPacket(m.topic, m.payload)));
  }

  /** Writes the encoded run; `firstAt` just before the first write, `writtenAt` once the last byte left the socket buffer. */
  async publishAll(encoded: Buffer): Promise<{ firstAt: number; writtenAt: number }> {
    const socket = this.socket;
    const firstAt = wallNow();
    for (let at = 0; at < encoded.length; at += CHUNK_BYTES) {
      if (!socket.write(encoded.subarray(at, at + CHUNK_BYTES))) await Promise.race([once(socket, 'drain'), this.closed]);
      if (socket.destroyed) throw new Error('the broker closed the publisher connection mid-run');
    }
    // 'drain' only follows a write that returned false; poll for the last bytes to leave.
    while (socket.writableLength > 0 && !socket.destroyed) await new Promise((r) => setTimeout(r, 1));
    return { firstAt, writtenAt: wallNow() };
  }

  /** Part of an encoded run, for a paced writer (bench:scene's background telemetry); false = the socket buffer is full. */
  write(chunk: Buffer): boolean {
    return this.socket.write(chunk);
  }

  /** One small message, e.g. to learn that a consumer has subscribed. */
  send(topic: string, payload: string): void {
    this.socket.write(publishPacket(topic, Buffer.from(payload)));
  }

  async end(): Promise<void> {
    if (this.socket.destroyed) return;
    this.socket.end(Buffer.from([0xe0, 0x00])); // DISCONNECT
    await this.closed;
  }
}

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function utf8Field(s: string): Buffer {
  const b = Buffer.from(s);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** CONNECT, MQTT 3.1.1, clean session, keepalive off (the run must not be interrupted by pings). */
function connectPacket(clientId: string): Buffer {
  const body = Buffer.concat([utf8Field('MQTT'), Buffer.from([4, 0x02, 0, 0]), utf8Field(clientId)]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

/** PUBLISH, QoS 0, not retained. */
function publishPacket(topic: string, payload: Buffer): Buffer {
  const t = utf8Field(topic);
  return Buffer.concat([Buffer.from([0x30, ...remainingLength(t.length + payload.length)]), t, payload]);
}
