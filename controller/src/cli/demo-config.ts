import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The demo building's config (npm start); here so commands can name it without loading the simulator. */
export const DEMO_CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), '../../../config/demo.yaml');
