/** A cluster to back up, as lib/config.ts validates it (the fields the backup stack uses). */
export interface ClusterTarget {
  readonly name: string;
  readonly region: string;
  /** Argo CD's namespace in the cluster. */
  readonly namespace: string;
}
