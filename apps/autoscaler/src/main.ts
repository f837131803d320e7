import { createHttpApp, listen, runApp } from '#infra/http';
import { servedPools } from '#model-service/model-registry';
import { AutoscalerModule } from './autoscaler.module.js';

await runApp('autoscaler', async (env) => {
  const app = await createHttpApp(AutoscalerModule.forPools(await servedPools(env.MODEL_REPOSITORY)), { bodyLimit: 64 * 1024, logLevel: env.LOG_LEVEL });
  await listen(app, env.AUTOSCALER_HOST, env.AUTOSCALER_PORT, 'autoscaler');
  return app;
});
