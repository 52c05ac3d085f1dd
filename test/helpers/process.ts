// Latchkey as users run it: the built entry point in a child process, with the run's environment.
import { type LatchkeyProcess, startLatchkey } from '../../scripts/shared/infra';
import { testEnv } from './api';

export type { LatchkeyProcess };

/** Starts the built entry point; resolves once the API listens (or the process exits). */
export function spawnLatchkey(
  overrides: Record<string, string> = {},
  opts: { waitFor?: RegExp } = {},
): Promise<LatchkeyProcess> {
  const env = { PATH: process.env.PATH ?? '', ...testEnv({ LOG_LEVEL: 'info' }), ...overrides };
  return startLatchkey({ env, waitFor: opts.waitFor });
}
