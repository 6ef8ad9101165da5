import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../../controller/test/helpers/wait.ts';
import { rangeCheckSource, TOPIC_ROOT } from './telemetry.ts';

const RED_JS = fileURLToPath(new URL('../../node_modules/node-red/red.js', import.meta.url));

export interface NodeRedCounts {
  count: number;
  bad: number;
  /** Date.now() when the function node handled its latest message. */
  last: number;
  probed: boolean;
}

export interface BenchNodeRed {
  pid: number | undefined;
  counts(): Promise<NodeRedCounts>;
  stop(): Promise<void>;
}

/**
 * The peer: Node-RED 4 as its own process, running the flow a Node-RED user would
 * build: `mqtt in` (parsed JSON output) → `function` (range check of the reading,
 * by topic, like roomctl's profiles). The function node counts in global context and
 * an `http in` GET /count reports the count, so the bench knows when every message
 * was processed. `bench/probe` messages only mark the subscription as live.
 */
export async function startNodeRed(brokerPort: number): Promise<BenchNodeRed> {
  const dir = mkdtempSync(join(tmpdir(), 'roomctl-bench-node-red-'));
  const port = await freePort();
  const init = `global.set('bench', { count: 0, bad: 0, last: 0, probed: false, ranges: new Map([\n${rangeCheckSource()}\n].map(([suffix, field, min, max]) => [suffix, { field, min, max }])) });`;
  const check = [
    "const s = global.get('bench');",
    "if (msg.topic === 'bench/probe') { s.probed = true; return null; }",
    '// bench/<room>/<suffix>: look the range up by the suffix',
    "const r = s.ranges.get(msg.topic.slice(msg.topic.indexOf('/', 6) + 1));",
    'const v = r && msg.payload !== null && typeof msg.payload === "object" ? msg.payload[r.field] : undefined;',
    "if (typeof v !== 'number' || v < r.min || v > r.max) s.bad++;",
    's.count++;',
    's.last = Date.now();',
    'return null;',
  ].join('\n');
  const report = "const s = global.get('bench');\nmsg.payload = { count: s.count, bad: s.bad, last: s.last, probed: s.probed };\nreturn msg;";
  const flows = [
    { id: 'bench-tab', type: 'tab', label: 'bench' },
    { id: 'bench-broker', type: 'mqtt-broker', name: 'bench', broker: '127.0.0.1', port: String(brokerPort), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
    { id: 'bench-in', type: 'mqtt in', z: 'bench-tab', name: 'telemetry', topic: `${TOPIC_ROOT}/#`, qos: '0', datatype: 'json', broker: 'bench-broker', nl: false, rap: true, rh: 0, inputs: 0, wires: [['bench-check']] },
    { id: 'bench-check', type: 'function', z: 'bench-tab', name: 'range check', func: check, initialize: init, finalize: '', libs: [], outputs: 1, wires: [[]] },
    { id: 'bench-http', type: 'http in', z: 'bench-tab', name: 'count', url: '/count', method: 'get', wires: [['bench-report']] },
    { id: 'bench-report', type: 'function', z: 'bench-tab', name: 'report', func: report, outputs: 1, wires: [['bench-response']] },
    { id: 'bench-response', type: 'http response', z: 'bench-tab', name: '', statusCode: '', headers: {}, wires: [] },
  ];
  const red = spawnNodeRed(dir, port, flows, '/');

  const counts = async (): Promise<NodeRedCounts> => {
    if (red.gone()) throw new Error(red.output());
    const res = await fetch(`http://127.0.0.1:${port}/count`);
    if (!res.ok) throw new Error(`GET /count: HTTP ${res.status}`);
    return (await res.json()) as NodeRedCounts;
  };
  const stop = red.stop;
  try {
    await waitFor(() => counts(), 60_000, `Node-RED to serve /count on port ${port}`, 200);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${red.output()}`);
  }
  return { pid: red.pid, counts, stop };
}

export interface SpawnedNodeRed {
  pid: number | undefined;
  /** The last output; prefixed "Node-RED exited" once the process is gone. */
  output(): string;
  gone(): boolean;
  /** Stops the process and removes its user directory. */
  stop(): Promise<void>;
}

/**
 * Node-RED 4 as its own process on `flows`, in user directory `dir`, shared by every
 * bench peer: no editor, no admin API, no prompts, no network look-ups — only the flow runs.
 */
export function spawnNodeRed(dir: string, port: number, flows: object[], httpNodeRoot: string | false): SpawnedNodeRed {
  if (!existsSync(RED_JS)) throw new Error('node-red is not installed: run `npm install` (it is a devDependency)');
  writeFileSync(join(dir, 'flows.json'), JSON.stringify(flows));
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    httpAdminRoot: false,
    httpNodeRoot,
    flowFile: 'flows.json',
    credentialSecret: false,
    logging: { console: { level: 'warn', metrics: false, audit: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
    functionExternalModules: false,
    editorTheme: { projects: { enabled: false } },
  };
  writeFileSync(join(dir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  const proc = spawn(process.execPath, [RED_JS, '--userDir', dir, '--settings', join(dir, 'settings.js'), '--port', String(port), 'flows.json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let gone = false;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  void exited.then(() => (gone = true));
  return {
    pid: proc.pid,
    output: () => (gone ? `Node-RED exited:\n${output}` : output),
    gone: () => gone,
    stop: async () => {
      if (!gone) {
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
