import { KubeConfig } from '@kubernetes/client-node';

/**
 * How the exporter reaches a cluster: a KubeConfig (fresh for each request batch, so an EKS
 * token can be renewed during a long export) and words for error messages.
 */
export interface KubeAccess {
  kubeConfig(): Promise<KubeConfig>;
  /** Who we are, for messages about 401/403: a kubeconfig user, or an IAM principal for EKS. */
  identity: string;
  /** How to grant that identity read access, for messages about 401. */
  grantHint: string;
  /** The API server, for messages about network and TLS failures. */
  server: string;
}

export class KubeConfigError extends Error {}

/** Access through a kubeconfig file (default: $KUBECONFIG or ~/.kube/config) and an optional context. */
export function kubeconfigAccess(file?: string, context?: string): KubeAccess {
  const config = new KubeConfig();
  try {
    if (file) config.loadFromFile(file);
    else config.loadFromDefault();
  } catch (error) {
    throw new KubeConfigError(`cannot read the kubeconfig ${file ?? '(default)'}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (context) {
    if (!config.getContexts().some((c) => c.name === context)) {
      throw new KubeConfigError(`the kubeconfig has no context "${context}"; it has: ${config.getContexts().map((c) => c.name).join(', ') || 'none'}`);
    }
    config.setCurrentContext(context);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new KubeConfigError(`the kubeconfig ${file ?? '(default)'} has no current cluster; pass --context`);
  const user = config.getCurrentUser();
  return {
    kubeConfig: async () => config,
    identity: `kubeconfig user "${user?.name ?? 'unknown'}" (context "${config.getCurrentContext()}")`,
    grantHint: 'bind the user to the argocd-dr-readers group or role (deploy/rbac/argocd-dr-reader.yaml), or use a kubeconfig whose credentials the cluster accepts',
    server: cluster.server,
  };
}
