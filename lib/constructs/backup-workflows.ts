import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import {
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Errors,
  JitterType,
  JsonPath,
  LogLevel,
  Map as MapState,
  Pass,
  ResultWriterV2,
  S3JsonItemReader,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  type IChainable,
  type INextable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ClusterTarget } from './cluster-target.js';

export interface BackupFunctions {
  readonly export: IFunction;
  readonly plan: IFunction;
  readonly mirror: IFunction;
  readonly verify: IFunction;
  readonly report: IFunction;
}

export interface BackupWorkflowsProps {
  readonly functions: BackupFunctions;
  /**
   * Export functions of the clusters that have one of their own (in the cluster's VPC, for a private
   * API endpoint), by cluster name. The other clusters are exported by functions.export.
   */
  readonly clusterExports?: Readonly<Record<string, IFunction>>;
  readonly clusters: readonly ClusterTarget[];
  /** Regional bucket for the Distributed Maps' item lists and result manifests (ItemReader cannot read another region). */
  readonly workBucket: IBucket;
  readonly mirrorConcurrency: number;
  readonly verifyConcurrency: number;
  readonly runTimeout: Duration;
  readonly logRetention: RetentionDays;
}

// Where plan writes the item lists in the work bucket, and where the maps write their results.
export const WORK_PREFIX = { items: 'runs/', mirrorResults: 'results/mirror', verifyResults: 'results/verify' } as const;


/**
 * The backup run (export per cluster → plan → Distributed Map of mirror+verify → report) and the
 * weekly verify sweep (plan the sweep → Distributed Map of verify → report).
 */
export class BackupWorkflows extends Construct {
  readonly backupRun: StateMachine;
  readonly verifySweep: StateMachine;

  constructor(scope: Construct, id: string, props: BackupWorkflowsProps) {
    super(scope, id);
    const fn = props.functions;

    // ---- backup run --------------------------------------------------------------------------
    const start = new Pass(this, 'StartRun', {
      comment: 'The run is named by the execution: runs/<execution name>.json',
      parameters: {
        'runId.$': '$$.Execution.Name',
        'startedAt.$': '$$.Execution.StartTime',
        clusters: props.clusters.map(({ name, region, namespace }) => ({ name, region, namespace })),
      },
    });

    // A cluster that cannot be exported is a result of the run, never the end of it.
    const exportFailed = new Pass(this, 'ExportFailed', {
      parameters: { 'cluster.$': '$.cluster.name', status: 'failed', 'error.$': '$.error.Cause' },
    });
    const exportTask = (id: string, lambdaFunction: IFunction, stateName?: string) =>
      invoke(this, id, lambdaFunction, { retryTaskFailures: true, ...(stateName ? { stateName } : {}) }).addCatch(exportFailed, {
        errors: [Errors.ALL],
        resultPath: '$.error',
      });
    const exportCluster = exportTask('ExportCluster', fn.export);
    // Clusters with a private endpoint are exported by their own function, inside their VPC: one
    // branch per such cluster, by name; every other cluster takes the shared function.
    const own = Object.entries(props.clusterExports ?? {});
    const exportProcessor =
      own.length === 0
        ? exportCluster
        : own
            .reduce(
              (choice, [name, lambdaFunction], i) =>
                choice.when(
                  Condition.stringEquals('$.cluster.name', name),
                  // State names are at most 80 characters; cluster names may have 100.
                  exportTask(`ExportCluster-${name}`, lambdaFunction, `ExportCluster-${name}`.length <= 80 ? `ExportCluster-${name}` : `ExportClusterNo${i + 1}`),
                ),
              new Choice(this, 'ExportFunctionOf?', { comment: 'Clusters with a private API endpoint have an export function in their VPC' }),
            )
            .otherwise(exportCluster);
    const exportClusters = new MapState(this, 'ExportClusters', {
      itemsPath: '$.clusters',
      itemSelector: { 'runId.$': '$.runId', 'cluster.$': '$$.Map.Item.Value' },
      resultPath: '$.exports',
    }).itemProcessor(exportProcessor);

    const plan = invoke(this, 'Plan', fn.plan, {
      payload: TaskInput.fromObject({ 'runId.$': '$.runId', 'exports.$': '$.exports' }),
      resultPath: '$.plan',
    });

    const mirrorRepo = invoke(this, 'MirrorRepo', fn.mirror, { resultPath: '$.mirror', retryTaskFailures: true });
    const verifyNewBundle = invoke(this, 'VerifyNewBundle', fn.verify, {
      payload: TaskInput.fromObject({ 'runId.$': '$.runId', 'bundle.$': '$.mirror.verifyBundle' }),
      resultPath: '$.verify',
      resultSelector: { 'bundle.$': '$.bundle', 'ok.$': '$.ok' },
      retryTaskFailures: true,
    });
    const mirrorRepos = this.itemsMap('MirrorRepos', {
      comment: 'One child execution per changed repository; failures are collected for the report, not fatal',
      maxConcurrency: props.mirrorConcurrency,
      resultsPrefix: WORK_PREFIX.mirrorResults,
      resultPath: '$.mirrorRun',
    }, props.workBucket).itemProcessor(
      mirrorRepo.next(
        new Choice(this, 'Mirrored?')
          // The mirror step names the bundle verify must open (a new one, or one readiness needs): steps.ts decides.
          .when(Condition.isPresent('$.mirror.verifyBundle'), verifyNewBundle)
          .otherwise(new Succeed(this, 'NothingNewToVerify')),
      ),
    );

    // The report receives the whole run state: runId, startedAt, exports, and plan / mirrorRun or their errors.
    const report = invoke(this, 'Report', fn.report, { resultPath: '$.report' });

    plan.addCatch(report, { errors: [Errors.ALL], resultPath: '$.planError' });
    mirrorRepos.addCatch(report, { errors: [Errors.ALL], resultPath: '$.mirrorError' });

    const backupDefinition = start
      .next(exportClusters)
      .next(plan)
      .next(
        new Choice(this, 'AnyRepoChanged?')
          .when(Condition.and(Condition.isPresent('$.plan.itemsKey'), Condition.numberGreaterThan('$.plan.items', 0)), mirrorRepos.next(report))
          .otherwise(report),
      );
    this.backupRun = this.stateMachine('BackupRun', backupDefinition, props);

    // ---- weekly verify sweep -----------------------------------------------------------------
    const startSweep = new Pass(this, 'StartSweep', {
      parameters: { 'runId.$': '$$.Execution.Name', 'startedAt.$': '$$.Execution.StartTime', sweep: 'verify' },
    });
    const planSweep = invoke(this, 'PlanSweep', fn.plan, {
      payload: TaskInput.fromObject({ 'runId.$': '$.runId', sweep: 'verify' }),
      resultPath: '$.plan',
    });
    const verifyBundle = invoke(this, 'VerifyBundle', fn.verify, {
      resultSelector: { 'bundle.$': '$.bundle', 'ok.$': '$.ok' },
      retryTaskFailures: true,
    });
    const verifyBundles = this.itemsMap('VerifyBundles', {
      comment: 'Re-verify the latest version of every bundle under git/',
      maxConcurrency: props.verifyConcurrency,
      resultsPrefix: WORK_PREFIX.verifyResults,
      resultPath: '$.verifyRun',
    }, props.workBucket).itemProcessor(verifyBundle);
    const sweepReport = invoke(this, 'SweepReport', fn.report, { resultPath: '$.report' });
    verifyBundles.addCatch(sweepReport, { errors: [Errors.ALL], resultPath: '$.verifyError' });
    this.verifySweep = this.stateMachine('VerifySweep', startSweep.next(planSweep).next(verifyBundles).next(sweepReport), props);
  }

  /**
   * A Distributed Map over the JSON items the plan step wrote to the work bucket (`$.plan.itemsKey`),
   * tolerating every item failure (the report collects them), its results written back to S3:
   * thousands of them would not fit a 256 KB state payload.
   */
  private itemsMap(id: string, options: { comment: string; maxConcurrency: number; resultsPrefix: string; resultPath: string }, workBucket: BackupWorkflowsProps['workBucket']): DistributedMap {
    return new DistributedMap(this, id, {
      comment: options.comment,
      itemReader: new S3JsonItemReader({ bucket: workBucket, key: JsonPath.stringAt('$.plan.itemsKey') }),
      maxConcurrency: options.maxConcurrency,
      toleratedFailurePercentage: 100,
      mapExecutionType: StateMachineType.STANDARD,
      resultWriterV2: new ResultWriterV2({ bucket: workBucket, prefix: options.resultsPrefix }),
      resultPath: options.resultPath,
      label: id,
    });
  }

  private stateMachine(id: string, definition: IChainable, props: BackupWorkflowsProps): StateMachine {
    const logs = new LogGroup(this, `${id}Logs`, { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    return new StateMachine(this, id, {
      definitionBody: DefinitionBody.fromChainable(definition),
      stateMachineType: StateMachineType.STANDARD,
      timeout: props.runTimeout,
      tracingEnabled: true,
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
    });
  }
}

interface InvokeOptions {
  payload?: TaskInput;
  resultPath?: string;
  resultSelector?: Record<string, string>;
  /** The state's name; default: the construct id. */
  stateName?: string;
  /** Retry the function's own failures too (steps that are idempotent and may hit transient network errors). */
  retryTaskFailures?: boolean;
}

/** A Lambda step whose result is the function's return value (its input: the whole state, unless a payload is given), retried with backoff. */
function invoke(scope: Construct, id: string, lambdaFunction: IFunction, options: InvokeOptions): LambdaInvoke & INextable {
  const task = new LambdaInvoke(scope, id, {
    lambdaFunction,
    payloadResponseOnly: true,
    ...(options.payload ? { payload: options.payload } : {}),
    ...(options.resultPath ? { resultPath: options.resultPath } : {}),
    ...(options.resultSelector ? { resultSelector: options.resultSelector } : {}),
    ...(options.stateName ? { stateName: options.stateName } : {}),
  });
  // LambdaInvoke already retries Lambda's service errors; a burst of map items can also be throttled.
  task.addRetry({ errors: ['Lambda.TooManyRequestsException'], interval: Duration.seconds(5), maxAttempts: 8, backoffRate: 2, jitterStrategy: JitterType.FULL });
  if (options.retryTaskFailures) {
    task.addRetry({ errors: [Errors.TASKS_FAILED, Errors.TIMEOUT], interval: Duration.seconds(30), maxAttempts: 2, backoffRate: 4 });
  }
  return task;
}
