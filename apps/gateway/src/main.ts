import { AppConfig } from '#infra/config';
import { createHttpApp, listen, listenAdmin, runApp } from '#infra/http';
import { servedPools } from '#model-service/model-registry';
import { installStripeRawBody } from './billing/stripe-webhook.controller.js';
import { mountDashboard } from './dashboard/dashboard-static.js';
import { bodyLimitOf, installEdgeAuth } from './edge-auth.js';
import { GatewayModule } from './gateway.module.js';
import { mountOpenApi } from './openapi.js';
import { isInferenceProtocolPath } from './v2/v2.controller.js';

await runApp('gateway', async (env) => {
  const app = await createHttpApp(GatewayModule.forPools(await servedPools(env.MODEL_REPOSITORY)), {
    bodyLimit: env.BODY_LIMIT_BYTES,
    logLevel: env.LOG_LEVEL,
    trustProxy: env.TRUST_PROXY,
    errorMember: isInferenceProtocolPath,
    bodyLimitFor: (method, route) => bodyLimitOf(method, route, env.MANAGEMENT_BODY_LIMIT_BYTES),
  });
  installEdgeAuth(app);
  installStripeRawBody(app);
  mountOpenApi(app, app.get(AppConfig).publicBaseUrl);
  mountDashboard(app);
  await listen(app, env.GATEWAY_HOST, env.GATEWAY_PORT, 'gateway');
  const admin = await listenAdmin(app, env.ADMIN_HOST, env.GATEWAY_ADMIN_PORT, 'gateway');
  return {
    close: async () => {
      await admin.close();
      await app.close();
    },
  };
});
