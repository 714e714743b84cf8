/**
 * The CloudWatch metrics the backup functions emit (Powertools EMF) and the alarms and dashboard
 * read. One table for both sides: no aws-cdk-lib import, so a handler can import it too.
 *
 * Every metric carries the dimension `service` = SERVICE_NAME, which Powertools Metrics adds by
 * default; run-level metrics carry nothing else, so an alarm matches them with `{ service }` only.
 */
export const METRICS_NAMESPACE = 'ArgocdDr';
export const SERVICE_NAME = 'argocd-dr';

export const BackupMetric = {
  /** Count, every backup run: 1 for the run's result, 0 for the other two (report). */
  RunSucceeded: 'RunSucceeded',
  RunPartiallyFailed: 'RunPartiallyFailed',
  RunFailed: 'RunFailed',
  /** Seconds since the newest Succeeded run, every backup run (report). */
  SecondsSinceLastSuccess: 'SecondsSinceLastSuccess',
  /** Count per run (report). */
  ReposMirrored: 'ReposMirrored',
  ReposUnchanged: 'ReposUnchanged',
  ReposFailed: 'ReposFailed',
  /** Count per run: Applications that could not be restored from this backup (report). */
  ApplicationsNotReady: 'ApplicationsNotReady',
  /** Bytes of bundles written in the run (report). */
  BytesMirrored: 'BytesMirrored',
  /** Count, one per bundle verified (verify, in backup runs and in the weekly sweep). */
  BundlesVerified: 'BundlesVerified',
  BundlesFailedVerification: 'BundlesFailedVerification',
  /** Seconds from the run's start to its report (report). */
  RunDuration: 'RunDuration',
  /** Count, per cluster (dimension Cluster): 1 when its export failed (export; dashboard only). */
  ExportFailed: 'ExportFailed',
} as const;

export type BackupMetricName = (typeof BackupMetric)[keyof typeof BackupMetric];
