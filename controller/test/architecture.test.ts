import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The architecture of DESIGN.md, kept visible in the code: no import cycles among the
 * service's modules (so each folder can be read on its own), the protocol libraries
 * imported only by their adapter, and the engine in its concern folders.
 */
const SRC = resolve(import.meta.dirname, '../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const files = sources(SRC);
const specifiers = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
const graph = new Map(files.map((f) => [f, specifiers(f).filter((s) => s.startsWith('.')).map((s) => resolve(dirname(f), s)).filter((p) => p.startsWith(SRC))]));

function cycles(): string[][] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (n: string) => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 1) found.push([...stack.slice(stack.indexOf(m)), m].map((p) => relative(SRC, p)));
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

describe('architecture', () => {
  it('has no import cycle among the service modules (type-only imports included)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(cycles()).toEqual([]);
  });

  it('imports each protocol library only from its adapter', () => {
    const owners: Record<string, string> = { mqtt: 'adapters/mqtt.ts', 'modbus-serial': 'adapters/modbus.ts', influx: 'adapters/influx.ts', aedes: 'adapters/broker.ts' };
    const offenders = files.flatMap((f) => specifiers(f).filter((s) => s in owners && relative(SRC, f) !== owners[s]).map((s) => `${relative(SRC, f)} imports ${s}`));
    expect(offenders).toEqual([]);
  });

  it('keeps the engine in its concern folders (intent, reconcile, readiness, jobs, hvac, timeline, alerts) with engine.ts wiring them', () => {
    const engine = files.filter((f) => relative(SRC, f).startsWith('engine/')).map((f) => relative(join(SRC, 'engine'), f));
    const loose = engine.filter((f) => !f.includes('/'));
    expect(loose).toEqual(['engine.ts']);
    expect([...new Set(engine.filter((f) => f.includes('/')).map((f) => f.split('/')[0]))].sort()).toEqual(['alerts', 'hvac', 'intent', 'jobs', 'readiness', 'reconcile', 'timeline']);
  });
});
