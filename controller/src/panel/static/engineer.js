// What the engineer's pages (overview and room page) share: signing in with a token
// kept on the device, the header (clock, connection, language), and how a room's
// temperature, readiness, meeting and alerts are put in words.
import { Api, ApiProblem, el, hhmm, ServiceClock, showTokenPrompt, store, takeToken } from './common.js';
import { checkName, duration, initialLanguage, language, otherLanguage, setLanguage, t } from './i18n.js';
import { apiMessage } from './words.js';

/** One token for the overview and every room page of this server (engineer, viewer or admin). */
export const TOKEN_KEY = 'token.site';

const $ = (id) => document.getElementById(id);

export class SitePage {
  constructor({ onLanguage }) {
    this.clock = new ServiceClock();
    this.onLanguage = onLanguage;
    this.live = undefined;
  }

  /** Token, site, language; false if the page cannot go on (a prompt or a message is showing). */
  async start() {
    setLanguage(initialLanguage(null));
    $('lang').addEventListener('click', () => {
      setLanguage(otherLanguage(), true);
      this.header();
      // A sign-in card or a message on screen is drawn again in the new language.
      if (this.notice) this.notice();
      else this.onLanguage();
    });
    this.header();
    const { token, empty } = takeToken(TOKEN_KEY);
    this.token = token;
    if (!this.token) {
      this.askToken(empty ? () => t('auth.emptyToken') : undefined);
      return false;
    }
    this.api = new Api(this.token);
    try {
      this.site = await this.api.get('/api/v1/site');
    } catch (err) {
      this.problem(err);
      return false;
    }
    this.clock.sync(this.site.now, this.site.speed);
    setLanguage(initialLanguage(this.site.language));
    setInterval(() => this.header(), 1000);
    this.header();
    return true;
  }

  header() {
    $('lang').textContent = t('lang.other');
    if (this.site) $('clock').textContent = hhmm(this.clock.now(), this.site.timezone, language());
    this.connection();
  }

  connection() {
    const c = $('conn');
    const state = this.live ? this.live.state : 'connecting';
    // Nothing is connecting while a sign-in card or a message is up.
    c.hidden = !!this.notice;
    c.dataset.state = state;
    const seconds = this.live && this.live.retryAt ? Math.max(0, Math.ceil((this.live.retryAt - Date.now()) / 1000)) : 0;
    c.textContent = state === 'offline' ? t('conn.offline', { s: seconds }) : t(`conn.${state}`);
  }

  /** For Live: a connection that failed before its greeting — is the token still good? */
  async stillAllowed() {
    try {
      await this.api.get('/api/v1/site');
      return true;
    } catch (err) {
      if (err instanceof ApiProblem && (err.status === 401 || err.status === 403)) {
        this.problem(err);
        return false;
      }
      return true;
    }
  }

  problem(err) {
    if (!(err instanceof ApiProblem)) {
      console.error(err);
      return this.fatal(() => t('error.page'));
    }
    if (err.status === 0 || err.status >= 500) return; // the live socket's reconnection re-fetches
    if (err.status === 401 || err.status === 403) {
      store.remove(TOKEN_KEY);
      return this.askToken(() => t('auth.rejected', { message: apiMessage(err) }));
    }
    this.fatal(() => apiMessage(err));
  }

  /** `reason`: a function giving the text in the current language (the card is redrawn when it changes). */
  askToken(reason) {
    if (this.live) this.live.stop();
    $('main').hidden = true;
    $('conn').hidden = true;
    this.notice = () => showTokenPrompt($('notice'), { title: t('auth.siteTitle'), hint: t('auth.siteHint'), reason: reason ? reason() : '', storageKey: TOKEN_KEY, t });
    this.notice();
  }

  fatal(message) {
    if (this.live) this.live.stop();
    $('main').hidden = true;
    $('conn').hidden = true;
    this.notice = () => {
      $('notice').replaceChildren(el('h2', { text: message() }));
      $('notice').hidden = false;
    };
    this.notice();
  }
}

/** `23.4 °C` against the band, as an element. */
export function temperature(s) {
  const [lo, hi] = s.band || [22, 24];
  if (typeof s.temperature !== 'number') return el('span', { class: 'muted', title: t('temp.none'), text: '— °C' });
  const inBand = s.temperature >= lo && s.temperature <= hi;
  return el('span', { class: inBand ? 'in-band' : 'out-of-band', text: `${s.temperature.toFixed(1)} °C` });
}

export function bandText(s) {
  const [lo, hi] = s.band || [22, 24];
  return `${lo}–${hi} °C · ${t(`season.${s.season}`)}`;
}

/** `✓ Room ready` / `✗ Not ready: …` / `Readiness not checked yet`, with a class for its colour. */
export function readiness(s) {
  const sep = language() === 'en' ? ', ' : '、';
  if (s.ready === true) return { text: `✓ ${t('ready.yes')}`, cls: 'line-good' };
  if (s.ready === false) return { text: `✗ ${t('ready.no', { checks: (s.failing || []).map(checkName).join(sep) })}`, cls: 'line-bad' };
  return { text: t('ready.unknown'), cls: 'muted' };
}

/** The focus meeting: `14:00–15:30 · Starts in 27 min`, its title where the token may see it. */
export function meeting(s, site, clock) {
  const m = s.meeting;
  if (!m) return { text: t('ov.noMeeting'), title: '' };
  const now = clock.now();
  const when = t('ov.meeting', { start: hhmm(m.start, site.timezone, language()), end: hhmm(m.end, site.timezone, language()) });
  const rel = m.start <= now ? t('panel.endsIn', { d: duration(Math.max(0, m.end - now)) }) : t('panel.startsIn', { d: duration(m.start - now) });
  return { text: `${when} · ${rel}`, title: m.title || '', level: m.level };
}

export function alertsText(s) {
  if (!s.alertsActive) return { text: t('ov.noAlerts'), cls: 'muted' };
  const text = s.alertsCritical ? t('ov.alertsCritical', { n: s.alertsActive, c: s.alertsCritical }) : t('ov.alerts', { n: s.alertsActive });
  return { text: `⚠ ${text}`, cls: s.alertsCritical ? 'line-bad' : 'line-warn' };
}

export function devicesText(s) {
  return { text: t('ov.devices', { on: s.devicesOnline, all: s.devicesTotal }), cls: s.devicesOnline < s.devicesTotal ? 'line-bad' : 'muted' };
}

/** ok / warn / bad, for a tile's edge. */
export function health(s) {
  if (s.alertsCritical || s.ready === false || s.devicesOnline < s.devicesTotal) return 'bad';
  if (s.alertsActive) return 'warn';
  return s.ready === true ? 'ok' : '';
}
