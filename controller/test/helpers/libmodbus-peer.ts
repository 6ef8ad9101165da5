import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The libmodbus peer (libmodbus-peer.c beside this file): built with gcc against
 * Debian's libmodbus-dev on first use (scripts/ensure-services.sh installs both),
 * cached by source hash, and driven over stdin/stdout. `requests` is every request
 * the peer received, as libmodbus parsed it.
 */
const SOURCE = join(import.meta.dirname, 'libmodbus-peer.c');

export function buildLibmodbusPeer(): string {
  const source = readFileSync(SOURCE);
  const binary = join(tmpdir(), `roomctl-libmodbus-peer-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  if (existsSync(binary)) return binary;
  if (!existsSync('/usr/include/modbus/modbus.h')) throw new Error('libmodbus-dev is not installed: run scripts/ensure-services.sh (npm test does)');
  const tmp = `${binary}.${process.pid}`;
  execFileSync('gcc', ['-Wall', '-O1', '-I/usr/include/modbus', '-o', tmp, SOURCE, '-lmodbus'], { stdio: ['ignore', 'ignore', 'pipe'] });
  execFileSync('mv', [tmp, binary]);
  return binary;
}

export interface PeerRequest {
  unit: number;
  fc: number;
  address: number;
  count: number;
}

export class LibmodbusPeer {
  readonly requests: PeerRequest[] = [];
  private pending: { resolve: (lines: string[]) => void; reject: (err: Error) => void; lines: string[] }[] = [];
  private stderr = '';
  private exited = false;

  private constructor(private child: ChildProcess) {}

  static tcp(port: number): Promise<LibmodbusPeer> {
    return LibmodbusPeer.start(['tcp', String(port)]);
  }

  static rtu(path: string, baud: number, unit: number): Promise<LibmodbusPeer> {
    return LibmodbusPeer.start(['rtu', path, String(baud), String(unit)]);
  }

  private static async start(args: string[]): Promise<LibmodbusPeer> {
    const child = spawn(buildLibmodbusPeer(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new LibmodbusPeer(child);
    child.stderr!.on('data', (d: Buffer) => (peer.stderr += d.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`libmodbus peer ${args.join(' ')} exited (${code}): ${peer.stderr.trim()}`)));
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (line === 'ready') return resolve();
        peer.line(line);
      });
    });
    child.once('exit', () => {
      peer.exited = true;
      for (const p of peer.pending.splice(0)) p.reject(new Error(`libmodbus peer exited: ${peer.stderr.trim()}`));
    });
    await ready;
    return peer;
  }

  private line(line: string): void {
    const req = /^req (\d+) (\d+) (\d+) (\d+)$/.exec(line);
    if (req) {
      const [unit, fc, address, count] = req.slice(1).map(Number) as [number, number, number, number];
      this.requests.push({ unit, fc, address, count });
      return;
    }
    const head = this.pending[0];
    if (!head) return;
    if (line === 'ok') return void (this.pending.shift(), head.resolve(head.lines));
    if (line.startsWith('error')) return void (this.pending.shift(), head.reject(new Error(`libmodbus peer refused the command: ${line}`)));
    head.lines.push(line);
  }

  /** Sends one command and waits for the peer to have applied it. */
  send(command: string): Promise<string[]> {
    if (this.exited) return Promise.reject(new Error('libmodbus peer is not running'));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, lines: [] });
      this.child.stdin!.write(`${command}\n`);
    });
  }

  async get(unit: number, table: 'h' | 'i' | 'c' | 'd', address: number): Promise<number> {
    const [value] = await this.send(`get ${unit} ${table} ${address}`);
    return Number(value!.split(' ')[1]);
  }

  requestsOf(unit: number): string[] {
    return this.requests.filter((r) => r.unit === unit).map((r) => `fc${r.fc} ${r.address}+${r.count}`);
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await gone;
  }
}
