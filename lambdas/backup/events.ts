import type { CredentialsRef } from './cluster-export.js';

/**
 * What the backup run's steps pass each other (Step Functions payloads). Kept small: lists that
 * can grow with the number of repositories travel through the store, not the payload.
 */

/** One cluster to back up, as configured (lib/config.ts). */
export interface ClusterTarget {
  name: string;
  region: string;
  namespace: string;
}

/** Input of every step: the run, named by the state machine execution. */
export interface RunContext {
  runId: string;
}

/** export step: one cluster. */
export interface ExportEvent extends RunContext {
  cluster: ClusterTarget;
}

export interface ExportStepResult {
  cluster: string;
  status: 'written' | 'unchanged' | 'failed';
  /** Store key of the cluster's manifest.json, when the export succeeded. */
  manifest?: string;
  error?: string;
}

/** plan step: every cluster's export result; or, for the weekly verify sweep, `sweep: 'verify'`. */
export interface PlanEvent extends RunContext {
  exports?: ExportStepResult[];
  sweep?: 'verify';
}

export interface PlanStepResult extends RunContext {
  /** Store key of a JSON array of MirrorItem: the Distributed Map's items (S3 ItemReader). */
  itemsKey: string;
  /** Items of the Distributed Map: the changed repos plus the readiness-only ones. */
  items: number;
  changed: number;
  unchanged: number;
  failed: number;
}

/** mirror step (one Distributed Map item): one repository. */
export interface MirrorItem {
  runId: string;
  url: string;
  /** Which exported Secret to fetch it with: named, never the values (items are plain files in S3). */
  credentials?: CredentialsRef;
  /** No exported Secret matches this extra repo: its credentials are the extra repositories secret's entry for `url`. */
  extraCredentials?: true;
  /** The clusters whose argocd-ssh-known-hosts-cm and argocd-tls-certs-cm apply, by name (read from their exports). */
  connectionFrom?: string[];
  /**
   * The repo is unchanged, but the readiness answers kept for its bundle do not cover this run's
   * Applications (a new targetRevision or path): nothing is fetched, and the verify step opens the
   * bundle — so the report function, small as it is, never has to.
   */
  readinessOnly?: true;
}

/** verify step: one bundle (also the weekly sweep's item). */
export interface VerifyItem {
  runId: string;
  bundle: string;
}

/** A caught Step Functions error. */
export interface StepError {
  Error?: string;
  Cause?: string;
}

/** report step: the whole run state the state machine carried (see lib/constructs/backup-workflows.ts). */
export interface ReportEvent extends RunContext {
  startedAt?: string;
  sweep?: 'verify';
  exports?: ExportStepResult[];
  plan?: PlanStepResult;
  /** Set by the state machine when a step failed as a whole: the run cannot have succeeded. */
  planError?: StepError;
  /** The sweep's Distributed Map failed as a whole. */
  verifyError?: StepError;
}
