import { createHttpApp, listen, runApp } from '#infra/http';
import { WorkerModule } from './worker.module.js';

await runApp('worker', async (env) => {
  const app = await createHttpApp(WorkerModule, { bodyLimit: 64 * 1024, logLevel: env.LOG_LEVEL });
  await listen(app, env.WORKER_HOST, env.WORKER_PORT, 'worker');
  return app;
});
