import { createHttpApp, listen, listenAdmin, runApp } from '#infra/http';
import { servedPools } from '#model-service/model-registry';
import { WorkerModule } from './worker.module.js';

await runApp('worker', async (env) => {
  const app = await createHttpApp(WorkerModule.forPools(await servedPools(env.MODEL_REPOSITORY)), { bodyLimit: 64 * 1024, logLevel: env.LOG_LEVEL });
  await listen(app, env.WORKER_HOST, env.WORKER_PORT, 'worker');
  const admin = await listenAdmin(app, env.ADMIN_HOST, env.WORKER_ADMIN_PORT, 'worker');
  return {
    close: async () => {
      await admin.close();
      await app.close();
    },
  };
});
