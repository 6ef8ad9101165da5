import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../controller/test/helpers/wait.ts';
import { spawnNodeRed } from './node-red.ts';
import { RED_PRESS_TOPIC, redFanOutSource } from './scene-site.ts';

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
  const dir = mkdtempSync(join(tmpdir(), 'roomctl-bench-scene-red-'));
  const port = await freePort();
  const flows = [
    { id: 'scene-tab', type: 'tab', label: 'scene' },
    { id: 'scene-broker', type: 'mqtt-broker', name: 'bench', broker: '127.0.0.1', port: String(brokerPort), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
    { id: 'scene-in', type: 'mqtt in', z: 'scene-tab', name: 'scene press', topic: RED_PRESS_TOPIC, qos: '0', datatype: 'utf8', broker: 'scene-broker', nl: false, rap: true, rh: 0, inputs: 0, wires: [['scene-fan-out']] },
    { id: 'scene-fan-out', type: 'function', z: 'scene-tab', name: 'scene fan-out', func: redFanOutSource(), initialize: '', finalize: '', libs: [], outputs: 1, wires: [['scene-out']] },
    { id: 'scene-out', type: 'mqtt out', z: 'scene-tab', name: 'device commands', topic: '', qos: '0', retain: 'false', broker: 'scene-broker', wires: [] },
  ];
  const red = spawnNodeRed(dir, port, flows, false);
  return { pid: red.pid, output: red.output, stop: red.stop };
}
