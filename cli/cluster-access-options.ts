import type { Command } from 'commander';
import type { KubeAccess } from '../lambdas/argocd/kube-access.js';
import { UsageError } from './usage-error.js';

/** Where the cluster is and what to call it: shared by export and backup. */
export interface ClusterAccessOptions {
  kubeconfig?: string;
  context?: string;
  eksCluster?: string;
  region?: string;
  clusterName?: string;
}

/** The options that say which cluster to read, and Argo CD's namespace in it. */
export function addClusterAccessOptions(command: Command): Command {
  return command
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('--eks-cluster <name>', 'read an EKS cluster through the AWS API instead of a kubeconfig')
    .option('--region <region>', "the EKS cluster's region (default: $AWS_REGION)")
    .option('--namespace <namespace>', "Argo CD's namespace", 'argocd')
    .option('--cluster-name <name>', 'name of the cluster in the store (default: the EKS cluster or the context name)');
}

export async function accessFrom(options: ClusterAccessOptions): Promise<{ access: KubeAccess; clusterName: string }> {
  if (options.eksCluster) {
    if (options.kubeconfig || options.context) throw new UsageError('give either --eks-cluster or --kubeconfig/--context, not both');
    const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region) throw new UsageError('--eks-cluster needs --region (or AWS_REGION)');
    const { eksAccess } = await import('../lambdas/argocd/eks-access.js');
    return { access: await eksAccess(options.eksCluster, region), clusterName: options.clusterName ?? options.eksCluster };
  }
  const { KubeConfigError, kubeconfigAccess } = await import('../lambdas/argocd/kube-access.js');
  try {
    const access = kubeconfigAccess(options.kubeconfig, options.context);
    const context = (await access.kubeConfig()).getCurrentContext();
    return { access, clusterName: options.clusterName ?? context.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') };
  } catch (error) {
    if (error instanceof KubeConfigError) throw new UsageError(error.message);
    throw error;
  }
}
