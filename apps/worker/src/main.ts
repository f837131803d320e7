import { presentSecrets } from '#infra/config';
import { createHttpApp, listen, listenAdmin, runApp } from '#infra/http';
import { servedPools, TENANT_POOL } from '#model-service/model-registry';
import { tenantSecretsRefusal } from './pools.js';
import { WorkerModule } from './worker.module.js';

await runApp('worker', async (env) => {
  // A worker of uploaded models holds no secret it does not need (docs/SECURITY.md).
  const refusal = tenantSecretsRefusal(env.WORKER_POOLS, TENANT_POOL, presentSecrets());
  if (refusal) throw new Error(refusal);
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
