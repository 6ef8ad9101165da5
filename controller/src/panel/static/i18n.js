// The pages' words in Simplified Chinese and English. The site's default language
// (config `site.language`, zh-CN unless set) applies until someone switches on the
// page; the choice is kept on the device (localStorage), per device, not per token.
import { store } from './common.js';
import { en } from './i18n-en.js';
import { zh } from './i18n-zh.js';

export const LANGUAGES = ['zh-CN', 'en'];

export const DICTIONARIES = { en, 'zh-CN': zh };
const STRINGS = DICTIONARIES;
let current = 'zh-CN';

export function language() {
  return current;
}

/**
 * The device's own choice if it made one, else the site's default: from the API once
 * signed in, before that from `<html lang>`, which the server sets to `site.language`.
 */
export function initialLanguage(siteDefault) {
  const saved = store.get('lang');
  if (LANGUAGES.includes(saved)) return saved;
  if (LANGUAGES.includes(siteDefault)) return siteDefault;
  const served = document.documentElement.dataset.siteLang || document.documentElement.lang;
  document.documentElement.dataset.siteLang = served;
  return LANGUAGES.includes(served) ? served : 'zh-CN';
}

export function setLanguage(lang, remember = false) {
  current = LANGUAGES.includes(lang) ? lang : 'zh-CN';
  document.documentElement.lang = current;
  if (remember) store.set('lang', current);
  translateStatic();
}

export function otherLanguage() {
  return current === 'en' ? 'zh-CN' : 'en';
}

/** The text of `key` in the current language, `{name}` filled from vars; English, then the key itself, as fallbacks. */
export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] === undefined ? `{${name}}` : String(vars[name])));
}

/** A check's name for people: translated where known, else the name with spaces. */
export function checkName(name) {
  const key = `check.${name}`;
  const text = t(key);
  return text === key ? String(name).replace(/^write:/, '').replace(/_/g, ' ') : text;
}

/** Elements with data-i18n="key" get their text from the dictionary. */
export function translateStatic(root = document) {
  for (const e of root.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
}

/** A span of time for a countdown: "less than a minute", "27 min", "2 h 05 min". */
export function duration(ms) {
  if (ms < 60_000) return t('dur.sec');
  const minutes = Math.ceil(ms / 60_000);
  if (minutes < 90) return t('dur.min', { m: minutes });
  return t('dur.hmin', { h: Math.floor(minutes / 60), m: String(minutes % 60).padStart(2, '0') });
}
