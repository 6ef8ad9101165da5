// What the server says in English, put in the page's language: API refusals, alerts,
// point values, device kinds. A page shows one language at a time (issue 13, item 2):
// in English the server's own sentence is shown as it is (it is the most precise); in
// Chinese the page builds its sentence from the structured fields the server sends
// beside it (status and error word, check, observed value, meeting, minutes to start).
import { ApiProblem } from './common.js';
import { checkName, duration, language, t } from './i18n.js';

/** The API's 401 reasons (api/guard.ts), word for word, and their keys. */
const UNAUTHORIZED = {
  'no API token: send "Authorization: Bearer <token>"': 'api.missing',
  'the API token is malformed': 'api.malformed',
  'the API token is not known': 'api.unknown',
  'the API token has been revoked': 'api.revoked',
  'the API token has expired': 'api.expired',
};

/** Why a request was refused or failed, in the page's language. */
export function apiMessage(err) {
  if (!(err instanceof ApiProblem)) return t('error.page');
  const m = err.message || '';
  switch (err.status) {
    case 0:
      return t('api.network');
    case 401:
      return t(UNAUTHORIZED[m] || 'api.unauthorized');
    case 403: {
      const scope = /^this token may only act on rooms? (.+)$/.exec(m);
      if (scope) return t('api.scope', { rooms: scope[1] });
      const role = /^an? (\w+) token may not do this/.exec(m);
      if (role) return t('api.role', { role: role[1] });
      return t('api.forbidden');
    }
    case 404: {
      const room = /^unknown room "(.+)"$/.exec(m);
      return room ? t('api.unknownRoom', { room: room[1] }) : t('api.notFound');
    }
    case 429:
      return t('scene.busy');
    default:
      return err.status >= 500 ? t('api.server', { status: err.status }) : language() === 'en' && m ? m : t('api.other', { status: err.status });
  }
}

/** A check or alert condition for people: `fault:hvac` → "device hvac reports a fault", `write:lights.main.on` → "… could not be set". */
function conditionName(check) {
  const [kind, rest] = String(check).split(/:(.*)/s);
  if (rest !== undefined && kind === 'fault') return t('alert.fault', { device: rest });
  if (rest !== undefined && kind === 'alarm') return t('alert.alarm', { point: rest });
  if (rest !== undefined && kind === 'write') return t('alert.write', { point: rest });
  return checkName(check);
}

/** What a check observed (`hvac.temperature=26.7 °C`, `door: offline`), its English remarks translated. */
const REMARKS = [
  [/: offline$/, 'obs.offline'],
  [/: stale$/, 'obs.stale'],
  [/: no reading$/, 'obs.noReading'],
  [/: no such point$/, 'obs.noPoint'],
  [/: no signal under test$/, 'obs.noSignal'],
  [/: battery low$/, 'obs.batteryLow'],
  [/: level too low$/, 'obs.levelLow'],
  [/: level too high$/, 'obs.levelHigh'],
];

function observedItem(x) {
  const s = String(x);
  for (const [re, key] of REMARKS) if (re.test(s)) return `${s.replace(re, '')}：${t(key)}`;
  // `point=value unit`: a reading, shown as it is; anything else is English prose, left out.
  return /^[\w.]+=[^\s:]+( [^\s:]+)?$/.test(s) ? s : s.split(/[:=\s]/)[0];
}

/** An alert (raised or cleared) in the page's language. */
export function alertText(a) {
  if (language() === 'en') return a.message;
  const name = conditionName(a.check);
  if (a.state === 'cleared') return t('alert.cleared', { check: name });
  const unverified = /cannot be verified/.test(a.message || '');
  const parts = [t(unverified ? 'alert.unverified' : 'alert.failed', { check: name })];
  const seen = a.observed === undefined || a.observed === null ? [] : (Array.isArray(a.observed) ? a.observed : [a.observed]).map(observedItem);
  if (seen.length && !/^(fault|alarm):/.test(a.check)) parts.push(t('alert.observed', { observed: seen.join('、') }));
  if (a.meetingId && typeof a.minutesToStart === 'number')
    parts.push(a.minutesToStart > 0 ? t('alert.meetingIn', { meeting: a.meetingId, d: duration(a.minutesToStart * 60_000) }) : t('alert.inSession', { meeting: a.meetingId }));
  return parts.join('；');
}

/** A point's value: yes/no, known enum words translated, numbers rounded; anything else as the device said it. */
export function valueText(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return t(v ? 'yes' : 'no');
  if (typeof v === 'number') return String(+v.toFixed(2));
  const key = `enum.${v}`;
  const text = t(key);
  return text === key ? String(v) : text;
}

/** A device kind (`hvac`, `fresh_air`…) and its protocol: "air conditioning · MQTT". */
export function deviceKindText(kind, protocol) {
  const key = `kind.${kind}`;
  const k = kind ? (t(key) === key ? kind : t(key)) : '';
  const p = protocol === 'mqtt' ? 'MQTT' : protocol === 'modbus' ? 'Modbus' : protocol;
  return [k, p].filter(Boolean).join(' · ');
}

/** A word the server sends as a code (`ok`, `moved`, `scene`…) through its key prefix, else the word itself. */
export function codeWord(prefix, word) {
  const key = `${prefix}.${word}`;
  const text = t(key);
  return text === key ? String(word) : text;
}

/** A device's last error as an adapter wrote it (English), in the page's language: the kind of error, with its figures. */
export function deviceErrorText(e) {
  if (!e || language() === 'en') return e || '';
  const s = String(e);
  const timeout = /within (\d+) ms/.exec(s);
  if (timeout) return t('derr.timeout', { ms: timeout[1] });
  const exception = /exception (\d+)/.exec(s);
  if (exception) return t('derr.exception', { code: exception[1] });
  if (/offline/i.test(s)) return t('obs.offline');
  if (/malformed/i.test(s)) return t('derr.malformed');
  if (/reject|invalid|not a |too large|out of range/i.test(s)) return t('derr.rejected');
  if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|closed|connect/i.test(s)) return t('derr.connection');
  return t('derr.other');
}
