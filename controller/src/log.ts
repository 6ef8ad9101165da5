import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * Concise structured logs (pino). On a terminal each entry is one readable line
 * (pino-pretty); piped, they stay JSON for log shippers. Logs go to stderr so the
 * demo table and command output own stdout. P15: never pass a meeting title or
 * organizer to a logger.
 */
export function createLogger(level: string = 'info', destination?: NodeJS.WritableStream): Logger {
  if (destination) return pino({ level, base: undefined }, destination as pino.DestinationStream);
  if (process.stderr.isTTY && !process.env.ROOMCTL_LOG_JSON) {
    return pino({ level, base: undefined }, pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: true }));
  }
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything, for tests and benches that measure throughput. */
export const silentLogger: Logger = pino({ level: 'silent' });
