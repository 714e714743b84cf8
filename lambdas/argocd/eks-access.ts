import { connectEks } from '../eks/cluster.js';
import type { KubeAccess } from './kube-access.js';

/** Access to an EKS cluster: DescribeCluster for endpoint and CA, and a renewed in-process token. */
export async function eksAccess(clusterName: string, region: string): Promise<KubeAccess> {
  return connectEks({ clusterName, region });
}
