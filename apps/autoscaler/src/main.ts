import { createHttpApp, listen, listenAdmin, runApp } from '#infra/http';
import { servedPools } from '#model-service/model-registry';
import { AutoscalerModule } from './autoscaler.module.js';

await runApp(
  'autoscaler',
  async (env) => {
    const app = await createHttpApp(AutoscalerModule.forPools(await servedPools(env.MODEL_REPOSITORY)), { bodyLimit: 64 * 1024, logLevel: env.LOG_LEVEL });
    await listen(app, env.AUTOSCALER_HOST, env.AUTOSCALER_PORT, 'autoscaler');
    const admin = await listenAdmin(app, env.ADMIN_HOST, env.AUTOSCALER_ADMIN_PORT, 'autoscaler');
    return {
      close: async () => {
        await admin.close();
        await app.close();
      },
    };
  },
  // With the local actuator, shutdown drains the workers it started.
  { shutdownBudgetMs: (env) => (env.AUTOSCALER_ACTUATOR === 'local' ? env.WORKER_DRAIN_TIMEOUT_MS + 10_000 : 8_000) },
);
