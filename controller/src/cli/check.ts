import { apiCall, apiTarget, EXIT, reportError, type TargetOptions } from './api-client.ts';

interface CheckAnswer {
  room: string;
  ready: boolean;
  failing: string[];
  meeting: { id: string; level: string; title?: string } | null;
  outcomes: { check: string; status: 'pass' | 'fail' | 'unknown'; observed?: unknown; expected?: string }[];
}

const MARK = { pass: '✓', fail: '✗', unknown: '?' } as const;

/** `roomctl check ROOM`: every readiness check of the room now; exit 0 ready, 1 not ready, 2 refused. */
export async function checkCommand(room: string, opts: TargetOptions & { json?: boolean }): Promise<number> {
  try {
    const a = await apiCall<CheckAnswer>(apiTarget(opts), 'POST', `/api/v1/rooms/${encodeURIComponent(room)}/check`);
    if (opts.json) console.log(JSON.stringify(a, null, 2));
    else {
      const m = a.meeting ? ` for meeting ${a.meeting.id} (${a.meeting.level}${a.meeting.title ? `, ${a.meeting.title}` : ''})` : '';
      console.log(`${a.room}${m}:`);
      for (const o of a.outcomes) {
        const seen = o.observed === undefined ? '' : ` observed ${Array.isArray(o.observed) ? o.observed.join(', ') : String(o.observed)}`;
        console.log(`  ${MARK[o.status]} ${o.check.padEnd(20)}${seen}${o.expected ? `, expected ${o.expected}` : ''}`);
      }
      console.log(a.ready ? 'ready' : `not ready: ${a.failing.join(', ')}`);
    }
    return a.ready ? EXIT.ok : EXIT.failed;
  } catch (err) {
    return reportError(err, 'check');
  }
}
