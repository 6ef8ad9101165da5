/**
 * `npm run docs:config`: rewrites docs/configuration.md from the site-config schemas
 * (controller/src/config/reference-doc.ts). `--check` only says whether the file is
 * current (exit 1 if not), for a hook or CI step that must not write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderConfigReference } from '../controller/src/config/reference-doc.ts';

const file = resolve(import.meta.dirname, '../docs/configuration.md');
const text = renderConfigReference();
let current = '';
try {
  current = readFileSync(file, 'utf8');
} catch {
  // Not written yet.
}
if (process.argv.includes('--check')) {
  if (current === text) console.log('docs/configuration.md is up to date');
  else {
    console.error('docs/configuration.md is out of date: run npm run docs:config');
    process.exitCode = 1;
  }
} else if (current === text) console.log('docs/configuration.md: unchanged');
else {
  writeFileSync(file, text);
  console.log(`docs/configuration.md: written (${text.split('\n').length} lines)`);
}
