/** Where a cluster's export function runs when the cluster's API endpoint is private (lib/config.ts `clusters[].vpc`). */
export interface ClusterVpc {
  readonly vpcId: string;
  /** Private subnets with a route to the API endpoint, to EKS and to S3 in the DR region (see BackupStack). */
  readonly subnetIds: readonly string[];
  /** Security groups of the function's network interfaces: egress 443 to the endpoint and the AWS APIs. */
  readonly securityGroupIds: readonly string[];
}

/** A cluster to back up, as lib/config.ts validates it (the fields the backup stack uses). */
export interface ClusterTarget {
  readonly name: string;
  readonly region: string;
  /** Argo CD's namespace in the cluster. */
  readonly namespace: string;
  /** Set for a private API endpoint: the cluster gets an export function of its own, in this VPC. */
  readonly vpc?: ClusterVpc;
}
