import { Command, InvalidArgumentError } from 'commander';
import { validateCommand } from './validate.ts';

const program = new Command();
program.name('roomctl').description('Meeting-room readiness controller').showHelpAfterError();

program
  .command('validate')
  .description('check a site configuration; prints every problem as path: message')
  .argument('<file>', 'site configuration (YAML)')
  .action((file: string) => {
    process.exitCode = validateCommand(file);
  });

program
  .command('start')
  .description('run the controller')
  .option('-c, --config <file>', 'site configuration (YAML)')
  .option('--status-every <seconds>', 'log a one-line status this often (0 = never)', positiveInt, 60)
  .action(async (opts: { config?: string; statusEvery: number }) => {
    if (!opts.config) {
      console.error('roomctl start: give --config FILE (try config/demo.yaml)');
      process.exitCode = 2;
      return;
    }
    // Loaded on demand: `validate` should not pay for the protocol libraries.
    const { startCommand } = await import('./start.ts');
    process.exitCode = await startCommand({ config: opts.config, statusEveryMs: opts.statusEvery * 1000 });
  });

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

await program.parseAsync(process.argv);
