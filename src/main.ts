// The one entry point: reads config, then runs the API, the workers, or both (LATCHKEY_ROLE).
import 'reflect-metadata';
import { type Api, startApi } from './app/api';
import { createContainer } from './app/container';
import { ConfigError, loadConfig } from './platform/config';
import { createLogger } from './platform/logger';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`latchkey: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const log = createLogger(config.logLevel, { role: config.role });
  const container = await createContainer(config, log);
  const api: Api | null = config.role === 'worker' ? null : await startApi(container);

  let stopping = false;
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
      await api?.stop();
      await container.close();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`latchkey: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
