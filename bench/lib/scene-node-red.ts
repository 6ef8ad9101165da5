import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../controller/test/helpers/wait.ts';
import { RED_PRESS_TOPIC, redFanOutSource } from './scene-site.ts';

const RED_JS = fileURLToPath(new URL('../../node_modules/node-red/red.js', import.meta.url));

export interface SceneNodeRed {
  pid: number | undefined;
  /** Output so far (for an error message). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * The peer for bench:scene: Node-RED 4 in its own process running the flow a Node-RED
 * user builds for a scene button: `mqtt in` (the press) → `function` (fan-out: one
 * message per device command) → `mqtt out` (topic and JSON payload from the message).
 * It fires and forgets: nothing waits for a device to report the value back. Same
 * settings as the ingest bench's Node-RED (lib/node-red.ts): no editor, no admin API,
 * no network look-ups.
 */
export async function startSceneNodeRed(brokerPort: number): Promise<SceneNodeRed> {
  if (!existsSync(RED_JS)) throw new Error('node-red is not installed: run `npm install` (it is a devDependency)');
  const dir = mkdtempSync(join(tmpdir(), 'roomctl-bench-scene-red-'));
  const port = await freePort();
  const flows = [
    { id: 'scene-tab', type: 'tab', label: 'scene' },
    { id: 'scene-broker', type: 'mqtt-broker', name: 'bench', broker: '127.0.0.1', port: String(brokerPort), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
    { id: 'scene-in', type: 'mqtt in', z: 'scene-tab', name: 'scene press', topic: RED_PRESS_TOPIC, qos: '0', datatype: 'utf8', broker: 'scene-broker', nl: false, rap: true, rh: 0, inputs: 0, wires: [['scene-fan-out']] },
    { id: 'scene-fan-out', type: 'function', z: 'scene-tab', name: 'scene fan-out', func: redFanOutSource(), initialize: '', finalize: '', libs: [], outputs: 1, wires: [['scene-out']] },
    { id: 'scene-out', type: 'mqtt out', z: 'scene-tab', name: 'device commands', topic: '', qos: '0', retain: 'false', broker: 'scene-broker', wires: [] },
  ];
  writeFileSync(join(dir, 'flows.json'), JSON.stringify(flows));
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    httpAdminRoot: false,
    httpNodeRoot: false,
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
    stop: async () => {
      if (!gone) {
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
