// The one entry point: reads config, then runs the API, the workers, or both (LATCHKEY_ROLE).
import 'reflect-metadata';
import { type Api, startApi } from './app/api';
import { type Container, createContainer } from './app/container';
import { startWorkers, type Workers } from './app/worker';
import { type Config, ConfigError, loadConfig } from './platform/config';
import { createLogger } from './platform/logger';
import { StartupError } from './platform/startup';

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`latchkey: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}

async function main(): Promise<void> {
  const config = configOrExit();
  const log = createLogger(config.logLevel, { role: config.role });
  let container: Container | null = null;
  let api: Api | null = null;
  let workers: Workers | null = null;
  let stopping = false;

  // Signals are handled from the first moment: a SIGTERM during start-up still shuts down cleanly.
  let started: Promise<void> = Promise.resolve();
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    try {
      await started.catch(() => undefined);
      await api?.stop();
      await workers?.stop();
      await container?.close();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  started = (async () => {
    container = await createContainer(config, log);
    if (config.role !== 'worker' && !stopping) api = await startApi(container);
    if (config.role !== 'api' && !stopping) workers = await startWorkers(container);
  })();
  await started;
}

main().catch((err) => {
  // A service not answering is the operator's to fix: its message says which setting; no stack.
  const text = err instanceof StartupError ? err.message : err instanceof Error ? err.stack : String(err);
  process.stderr.write(`latchkey: failed to start: ${text}\n`);
  process.exit(1);
});
