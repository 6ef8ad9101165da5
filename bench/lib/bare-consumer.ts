/**
 * Bench child: the ceiling. A bare mqtt.js subscriber that only JSON.parses each
 * payload — what any Node.js consumer pays before doing anything useful.
 */
import { connect } from 'mqtt';
import { argValue, childChannel, wallNow } from './child.ts';
import { TELEMETRY, TOPIC_ROOT } from './telemetry.ts';

const url = argValue('url');
const total = Number(argValue('rooms')) * TELEMETRY.length * Number(argValue('rounds'));

let count = 0;
let bad = 0;
let doneAt = 0;
// Without mqtt.js's per-packet `debug` tracing, as roomctl runs it: the ceiling stays a ceiling.
const client = connect(url, { clientId: `bare-bench-${process.pid}`, clean: true, reconnectPeriod: 0, log: () => {} });
const send = childChannel(
  () => count,
  () => new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
);

client.on('message', (_topic, payload) => {
  const doc: unknown = JSON.parse(payload.toString());
  if (doc === null || typeof doc !== 'object') bad++;
  if (++count === total) {
    doneAt = wallNow();
    setImmediate(() => send({ type: 'done', count, doneAt, problems: bad > 0 ? [`${bad} payloads were not JSON objects`] : [], detail: {} }));
  }
});

await new Promise<void>((resolve, reject) => {
  client.once('error', reject);
  client.once('connect', () => client.subscribe(`${TOPIC_ROOT}/#`, { qos: 0 }, (err) => (err ? reject(err) : resolve())));
});
const mem = process.memoryUsage();
send({ type: 'ready', rssBytes: mem.rss, peakRssBytes: process.resourceUsage().maxRSS * 1024, heapUsedBytes: mem.heapUsed, baselineRssBytes: mem.rss, setupMs: 0, devices: 0, points: 0 });
