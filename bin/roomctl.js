#!/usr/bin/env node
// roomctl runs its TypeScript sources directly through tsx's loader: no build step,
// so a fresh clone works after `npm install` and stack traces point at the .ts files.
import { register } from 'tsx/esm/api';

register();
await import('../controller/src/cli/main.ts');
