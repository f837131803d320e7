import { readFileSync } from 'node:fs';
import { AppsV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Logger } from '@nestjs/common';
import type { Actuator } from './actuator.js';

/** The service account's namespace file in a pod. */
const IN_CLUSTER_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The Deployment of a pool: `{pool}` in the template replaced by the pool's name. */
export function deploymentName(template: string, pool: string): string {
  return template.replaceAll('{pool}', pool);
}

export interface KubernetesActuatorOptions {
  /** A kubeconfig file; unset: KubeConfig's default lookup (in a pod: the service account). */
  kubeconfig?: string;
  namespace?: string;
  deploymentTemplate: string;
}

/**
 * Kubernetes: reads and patches the `scale` subresource of each pool's Deployment
 * (`GET`/`PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale`, JSON merge patch
 * `{"spec":{"replicas":n}}`), which is all the autoscaler's Role allows. Pods removed by a
 * scale-in get SIGTERM (after their preStop hook): the worker drains.
 */
export class KubernetesActuator implements Actuator {
  readonly kind = 'kubernetes';
  private readonly logger = new Logger('KubernetesActuator');
  private readonly api: AppsV1Api;
  readonly namespace: string;

  constructor(private readonly opts: KubernetesActuatorOptions) {
    const kc = new KubeConfig();
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
    this.api = kc.makeApiClient(AppsV1Api);
    this.namespace = opts.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? readInClusterNamespace() ?? 'default';
  }

  private name(pool: string): string {
    return deploymentName(this.opts.deploymentTemplate, pool);
  }

  async current(pool: string): Promise<number> {
    const scale = await this.api.readNamespacedDeploymentScale({ name: this.name(pool), namespace: this.namespace });
    return scale.spec?.replicas ?? 0;
  }

  async apply(pool: string, desired: number): Promise<void> {
    await this.api.patchNamespacedDeploymentScale(
      { name: this.name(pool), namespace: this.namespace, body: { spec: { replicas: desired } }, fieldManager: 'stratum-autoscaler' },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    this.logger.log(`deployment ${this.namespace}/${this.name(pool)} scaled to ${desired}`);
  }

  async close(): Promise<void> {
    // the Deployments keep their scale
  }
}

function readInClusterNamespace(): string | undefined {
  try {
    return readFileSync(IN_CLUSTER_NAMESPACE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
