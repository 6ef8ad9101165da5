import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ServerTCP } from 'modbus-serial';
import { SMTPServer } from 'smtp-server';
import { freePort, waitFor } from './wait.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
/** What `npm run flows` runs. */
export const FLOWS_START = join(ROOT, 'flows/start.mjs');
export const FLOWS_DIR = join(ROOT, 'flows');

/** GET /roomctl/status of the shipped flows (flows/flows.json, tab "flow status"). */
export interface FlowsStatus {
  site: string | null;
  configured: Record<string, boolean>;
  problems: string[];
  buttons: { received: number; pressed: number; ignored: number };
  modbusKeypads: { room: string; host: string; unit: number; online: boolean; polls: number; presses: number; errors: number; lastError: string }[];
  bookings: { received: number; forwarded: number; refused: number; failed: number };
  alerts: { received: number; ignored: number; filtered: number; webhook: { sent: number; failed: number; retried: number }; email: { sent: number; failed: number; lastError?: string } };
}

export interface FlowsNodeRed {
  /** http://127.0.0.1:<port>: the flows' HTTP endpoints (/roomctl/bookings, /roomctl/status). */
  url: string;
  /** NODE_RED_USER_DIR: the runtime's state (credentials file, .config.*.json), a temporary folder. */
  userDir: string;
  status(): Promise<FlowsStatus>;
  /** Node-RED's recent output, for failure messages. */
  log(): string;
  /** SIGTERM (Node-RED stops its flows and exits), then removes the user directory. */
  stop(): Promise<void>;
}

/**
 * Test helpers for the shipped Node-RED flows (flows/): the flows themselves as a
 * child process, and the real peers they talk to besides roomctl — a Modbus keypad,
 * a chat robot's webhook, a mail server.
 */

/** Variables the test process may have that must not leak into the flows under test. */
const OURS = /^(ROOMCTL_|MQTT_|SMTP_|ALERT_|BOOKING_|MODBUS_KEYPADS$|NODE_RED_)/;

/**
 * Starts the shipped flows as an integrator does — `node flows/start.mjs` (npm run
 * flows), a child process running Node-RED 4 — with `env` as its configuration, the
 * editor off, on a free port, its state in a temporary user directory. The first run
 * on a fresh clone installs flows/node_modules (npm ci), hence the long start timeout.
 * Resolves once GET /roomctl/status answers.
 */
export async function startFlows(env: Record<string, string>, startTimeoutMs = 240_000): Promise<FlowsNodeRed> {
  const port = await freePort();
  const userDir = mkdtempSync(join(tmpdir(), 'roomctl-flows-'));
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !OURS.test(k)));
  const proc = spawn(process.execPath, [FLOWS_START], {
    cwd: ROOT,
    env: { ...inherited, NODE_RED_PORT: String(port), NODE_RED_HOST: '127.0.0.1', NODE_RED_USER_DIR: userDir, NODE_RED_EDITOR: 'off', NODE_RED_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  let gone = false;
  const exited = new Promise<void>((r) => proc.once('exit', () => ((gone = true), r())));
  const url = `http://127.0.0.1:${port}`;

  const status = async (): Promise<FlowsStatus> => {
    if (gone) throw new Error(`Node-RED exited:\n${output}`);
    const res = await fetch(`${url}/roomctl/status`);
    if (!res.ok) throw new Error(`GET /roomctl/status: HTTP ${res.status}`);
    return (await res.json()) as FlowsStatus;
  };
  const stop = async () => {
    if (!gone) {
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(userDir, { recursive: true, force: true });
  };
  try {
    // Not waitFor(): a Node-RED that exits during start-up fails the start at once.
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (gone) throw new Error('Node-RED exited during start-up');
      if (await status().then(() => true, () => false)) break;
      if (Date.now() > deadline) throw new Error(`timed out after ${startTimeoutMs} ms waiting for the flows to serve /roomctl/status on port ${port}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${output}`);
  }
  return { url, userDir, status, log: () => output, stop };
}

/**
 * A Modbus wall keypad as modbus-serial's ServerTCP: keys are discrete inputs, LEDs are
 * coils. `reads` counts key reads, so a test can hold a key down until the flows saw it.
 */
export interface KeypadPeer {
  keys: boolean[];
  leds: boolean[];
  reads: number;
  /** A press as a person makes it: down until the flows have read it down (twice), then up. */
  press(index: number): Promise<void>;
  close(): Promise<void>;
}

export async function startKeypadPeer(port: number, keyCount: number): Promise<KeypadPeer> {
  const keypad = { keys: Array<boolean>(keyCount).fill(false), leds: Array<boolean>(keyCount).fill(false), reads: 0 };
  const vector = {
    getDiscreteInput: (addr: number, _unit: number, cb: (err: unknown, v?: boolean) => void) => {
      keypad.reads++;
      cb(null, keypad.keys[addr] ?? false);
    },
    getCoil: (addr: number, _unit: number, cb: (err: unknown, v?: boolean) => void) => cb(null, keypad.leds[addr] ?? false),
    setCoil: (addr: number, value: boolean, _unit: number, cb: (err: unknown) => void) => {
      keypad.leds[addr] = value;
      cb(null);
    },
  };
  const server = new ServerTCP(vector as never, { host: '127.0.0.1', port, unitID: 255 });
  await new Promise<void>((resolve, reject) => {
    server.once('initialized', () => resolve());
    server.once('serverError', reject);
  });
  return Object.assign(keypad, {
    async press(index: number) {
      keypad.keys[index] = true;
      const seen = keypad.reads;
      await waitFor(() => keypad.reads >= seen + 2 * keyCount, 30_000, 'the flows to poll the pressed key');
      keypad.keys[index] = false;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/** A chat robot's incoming webhook: records every request and answers like WeCom/DingTalk (`errcode: 0`). */
export interface WebhookPeer {
  url: string;
  requests: { url: string; headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

export async function startWebhookPeer(): Promise<WebhookPeer> {
  const requests: WebhookPeer['requests'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok"}');
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A mail server that insists on a login (no TLS: loopback only) and keeps every message it accepts. */
export interface SmtpPeer {
  port: number;
  mails: { from: string; to: string[]; user: string; raw: string }[];
  close(): Promise<void>;
}

export async function startSmtpPeer(login: { user: string; pass: string }): Promise<SmtpPeer> {
  const mails: SmtpPeer['mails'] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === login.user && auth.password === login.pass) cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (d: Buffer) => (raw += d.toString()));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), user: String(session.user), raw });
        cb();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}
