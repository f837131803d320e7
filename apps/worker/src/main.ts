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
  // POST /drain (Kubernetes preStop, the local actuator): the same as SIGTERM — no new jobs,
  // held ones finished or handed back within WORKER_DRAIN_TIMEOUT_MS, then exit 0.
  const admin = await listenAdmin(app, env.ADMIN_HOST, env.WORKER_ADMIN_PORT, 'worker', { '/drain': () => void process.kill(process.pid, 'SIGTERM') });
  return {
    close: async () => {
      await app.close();
      await admin.close();
    },
  };
  // The budget covers the drain's deadline, then the sessions' release.
}, { shutdownBudgetMs: (env) => env.WORKER_DRAIN_TIMEOUT_MS + 8_000 });
