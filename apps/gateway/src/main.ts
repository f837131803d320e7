import { AppConfig } from '#infra/config';
import { createHttpApp, listen, runApp } from '#infra/http';
import { servedPools } from '#model-service/model-registry';
import { GatewayModule } from './gateway.module.js';
import { mountOpenApi } from './openapi.js';
import { isInferenceProtocolPath } from './v2/v2.controller.js';

await runApp('gateway', async (env) => {
  const app = await createHttpApp(GatewayModule.forPools(await servedPools(env.MODEL_REPOSITORY)), {
    bodyLimit: env.BODY_LIMIT_BYTES,
    logLevel: env.LOG_LEVEL,
    trustProxy: env.TRUST_PROXY,
    errorMember: isInferenceProtocolPath,
  });
  mountOpenApi(app, app.get(AppConfig).publicBaseUrl);
  await listen(app, env.GATEWAY_HOST, env.GATEWAY_PORT, 'gateway');
  return app;
});
