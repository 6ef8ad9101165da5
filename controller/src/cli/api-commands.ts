import { InvalidArgumentError, type Command } from 'commander';

/**
 * The API commands (issue 6): `rooms`, `check`, `scene`, `meetings add|cancel|list`
 * over the HTTP API with ROOMCTL_TOKEN, and `token create|revoke|list` on the token
 * file offline. Registered by main.ts; each loads its module on demand.
 */
export function registerApiCommands(program: Command): void {
  const apiOptions = (c: Command) =>
    c.option('--url <url>', 'the roomctl API (default ROOMCTL_URL, else the config\'s api host/port, else http://127.0.0.1:8080)').option('-c, --config <file>', 'site configuration (for the API address)');

  apiOptions(program.command('rooms').description('every room: phase, temperature against the band, readiness, next meeting, alerts, devices').option('--json', 'print JSON')).action(
    async (opts: { url?: string; config?: string; json?: boolean }) => {
      const { roomsCommand } = await import('./rooms.ts');
      process.exitCode = await roomsCommand(opts);
    },
  );

  apiOptions(program.command('check').description('run every readiness check of a room now (exit 0 ready, 1 not ready, 2 refused)').argument('<room>', 'room id').option('--json', 'print JSON')).action(
    async (room: string, opts: { url?: string; config?: string; json?: boolean }) => {
      const { checkCommand } = await import('./check.ts');
      process.exitCode = await checkCommand(room, opts);
    },
  );

  apiOptions(program.command('scene').description('apply a scene; every write proven by read-back (exit 0 applied, 1 a write failed, 2 refused)').argument('<room>', 'room id').argument('<name>', 'scene name').option('--json', 'print JSON')).action(
    async (room: string, name: string, opts: { url?: string; config?: string; json?: boolean }) => {
      const { sceneCommand } = await import('./scene.ts');
      process.exitCode = await sceneCommand(room, name, opts);
    },
  );

  const meetings = program.command('meetings').description('bookings over the API (scheduler, engineer or admin token)');
  apiOptions(
    meetings
      .command('add')
      .description('add or change a booking by its id')
      .requiredOption('--id <id>', 'the booking system\'s id')
      .requiredOption('--room <room>', 'room id')
      .requiredOption('--start <time>', 'ISO time with a zone (2026-11-23T09:00+08:00) or epoch ms')
      .requiredOption('--end <time>', 'ISO time with a zone or epoch ms')
      .option('--level <level>', 'normal, vip3, vip2 or vip1')
      .option('--attendees <n>', 'expected attendees', positiveInt)
      .option('--title <text>', 'title (confidential, P15)')
      .option('--organizer <name>', 'organizer (confidential, P15)'),
  ).action(async (opts: import('./meetings.ts').AddOptions) => {
    const { meetingsAddCommand } = await import('./meetings.ts');
    process.exitCode = await meetingsAddCommand(opts);
  });
  apiOptions(meetings.command('cancel').description('cancel a booking').argument('<id>', 'booking id')).action(async (id: string, opts: { url?: string; config?: string }) => {
    const { meetingsCancelCommand } = await import('./meetings.ts');
    process.exitCode = await meetingsCancelCommand(id, opts);
  });
  apiOptions(
    meetings.command('list').description('bookings from now to 7 days ahead (or --from/--to)').option('--room <room>', 'one room').option('--from <time>', 'start of the window').option('--to <time>', 'end of the window').option('--json', 'print JSON'),
  ).action(async (opts: { url?: string; config?: string; room?: string; from?: string; to?: string; json?: boolean }) => {
    const { meetingsListCommand } = await import('./meetings.ts');
    process.exitCode = await meetingsListCommand(opts);
  });

  const token = program.command('token').description('API tokens in <data dir>/tokens.json (offline; a running service picks changes up)');
  const tokenOptions = (c: Command) => c
      .option('-c, --config <file>', "the site (its data folder; room ids are checked)")
      .option('--data-dir <dir>', "the service's data folder, if not the site's default")
      .option('--demo', "the demo's tokens (npm start)");
  tokenOptions(
    token
      .command('create')
      .description('create a token and print it once')
      .requiredOption('--role <role>', 'admin, engineer, scheduler, attendant, viewer or panel')
      .option('--rooms <ids>', 'rooms it is scoped to, comma-separated (panel: exactly one)')
      .option('--ttl <duration>', 'lifetime, e.g. 30m, 24h, 7d (default: no expiry)')
      .option('--label <text>', 'what it is for, e.g. "tablet 3F-301"'),
  ).action(async (opts: { role: string; rooms?: string; ttl?: string; label?: string; dataDir?: string; config?: string }) => {
    const { tokenCreateCommand, usage } = await import('./token.ts');
    process.exitCode = usage(() => tokenCreateCommand(opts));
  });
  tokenOptions(token.command('revoke').description('revoke a token by id').argument('<id>', 'token id (roomctl token list)')).action(async (id: string, opts: { dataDir?: string }) => {
    const { tokenRevokeCommand, usage } = await import('./token.ts');
    process.exitCode = usage(() => tokenRevokeCommand(id, opts));
  });
  tokenOptions(token.command('list').description('every token: id, role, rooms, state (never the secret)').option('--json', 'print JSON')).action(async (opts: { dataDir?: string; json?: boolean }) => {
    const { tokenListCommand, usage } = await import('./token.ts');
    process.exitCode = usage(() => tokenListCommand(opts));
  });
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}
