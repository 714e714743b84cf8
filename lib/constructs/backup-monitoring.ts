import { Duration, Stack } from 'aws-cdk-lib';
import { AlarmStatusWidget, Dashboard, GraphWidget, MathExpression, SingleValueWidget, TextWidget, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { AlarmFactory, backupMetric } from '../alarms.js';
import { BackupMetric, METRICS_NAMESPACE } from '../../lambdas/shared/metrics.js';
import type { BackupFunction } from './backup-function.js';

export interface BackupMonitoringProps {
  readonly functions: readonly BackupFunction[];
  readonly backupRun: StateMachine;
  readonly verifySweep: StateMachine;
  /** How often the backup run is scheduled: "stale" means two of these without a Succeeded run. */
  readonly backupInterval: Duration;
  readonly alarmEmails: readonly string[];
}

/** The alarm topic, every alarm, and the dashboard of one backup region. */
export class BackupMonitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: AlarmFactory;
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: BackupMonitoringProps) {
    super(scope, id);

    const key = new Key(this, 'TopicKey', { description: 'argocd-dr: encrypts the backup alarm topic', enableKeyRotation: true });
    // CloudWatch alarms publish to an encrypted topic only if they may use its key.
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.topic = new Topic(this, 'AlarmTopic', { displayName: 'argocd-dr backup alarms', masterKey: key, enforceSSL: true });
    for (const email of props.alarmEmails) this.topic.addSubscription(new EmailSubscription(email));

    const alarms = (this.alarms = new AlarmFactory(this, 'Alarms', this.topic));
    const perRun = (name: (typeof BackupMetric)[keyof typeof BackupMetric]) => backupMetric(name, 'Maximum');

    alarms.whenAny('RunFailed', perRun(BackupMetric.RunFailed), 'A backup run failed: no cluster could be exported. Open runs/<run-id>.json in the vault.');
    alarms.whenAny('RunPartiallyFailed', perRun(BackupMetric.RunPartiallyFailed), 'A backup run partly failed: a cluster, repository or bundle failed, or an Application could not be restored from the backup. See problems in runs/<run-id>.json.');
    const stale = staleness(props.backupInterval);
    alarms.whenAbsent('BackupStale', backupMetric(BackupMetric.RunSucceeded, 'Sum', stale.period), stale.periods,
      `No backup run succeeded in ${stale.window.toHumanString()} (twice the schedule): runs fail, or do not start at all.`);
    alarms.whenAny('BundleFailedVerification', backupMetric(BackupMetric.BundlesFailedVerification), 'A stored Git bundle failed verification: it may not restore. See the verify report in the run.');

    for (const [name, machine] of [['BackupRun', props.backupRun], ['VerifySweep', props.verifySweep]] as const) {
      alarms.whenAny(`${name}ExecutionsFailed`, machine.metricFailed({ statistic: 'Sum' }), `The ${name} state machine failed: a step threw past its retries (the report may be missing).`);
      alarms.whenAny(`${name}ExecutionsTimedOut`, machine.metricTimedOut({ statistic: 'Sum' }), `The ${name} state machine timed out before its report.`);
    }
    for (const fn of props.functions) {
      alarms.whenAny(`${capitalize(fn.label)}FunctionErrors`, fn.metricErrors({ statistic: 'Sum' }), `The ${fn.label} function failed (after Step Functions retries, the step may have been recorded as failed).`);
      alarms.whenAny(`${capitalize(fn.label)}FunctionThrottles`, fn.metricThrottles({ statistic: 'Sum' }), `The ${fn.label} function was throttled: raise the account's concurrency or lower concurrency.mirror.`);
    }

    const hourly = Duration.hours(1);
    const sum = (name: (typeof BackupMetric)[keyof typeof BackupMetric]) => backupMetric(name, 'Sum', hourly);
    const graph = (title: string, left: IMetric[], extra: { stacked?: boolean; leftLabel?: string } = {}) =>
      new GraphWidget({ title, left, width: 12, height: 6, ...(extra.stacked ? { stacked: true } : {}), ...(extra.leftLabel ? { leftYAxis: { label: extra.leftLabel, showUnits: false } } : {}) });

    this.dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(7),
      widgets: [
        [new TextWidget({ markdown: '# argocd-dr backups\nRun reports: `runs/<run-id>.json` in the vault bucket.', width: 24, height: 2 })],
        [
          new SingleValueWidget({ title: 'Backup age (s since last Succeeded run)', metrics: [backupMetric(BackupMetric.SecondsSinceLastSuccess, 'Maximum', hourly)], width: 6, height: 6 }),
          graph('Backup age', [backupMetric(BackupMetric.SecondsSinceLastSuccess, 'Maximum', hourly)], { leftLabel: 'seconds' }),
          new AlarmStatusWidget({ title: 'Alarms', alarms: alarms.alarms, width: 6, height: 6 }),
        ],
        [
          graph('Runs by result', [sum(BackupMetric.RunSucceeded), sum(BackupMetric.RunPartiallyFailed), sum(BackupMetric.RunFailed)], { stacked: true }),
          graph('Repositories by status', [sum(BackupMetric.ReposMirrored), sum(BackupMetric.ReposUnchanged), sum(BackupMetric.ReposFailed)], { stacked: true }),
        ],
        [
          graph('Bytes stored (bundles written)', [sum(BackupMetric.BytesMirrored)], { leftLabel: 'bytes' }),
          graph('Verification results', [sum(BackupMetric.BundlesVerified), sum(BackupMetric.BundlesFailedVerification)], { stacked: true }),
        ],
        [
          graph('Run duration', [backupMetric(BackupMetric.RunDuration, 'Maximum', hourly), props.backupRun.metricTime({ statistic: 'Maximum', period: hourly })]),
          graph('Function duration (p90)', props.functions.map((fn) => fn.metricDuration({ statistic: 'p90', period: hourly, label: fn.label }))),
        ],
        [
          // Per cluster: the export step adds a Cluster dimension, so a search finds every cluster.
          graph('Failed exports by cluster', [new MathExpression({
            expression: `SEARCH('{${METRICS_NAMESPACE},Cluster,service} MetricName="${BackupMetric.ExportFailed}"', 'Sum', ${hourly.toSeconds()})`,
            label: 'export failed',
            period: hourly,
          })]),
          graph('Applications not restore-ready', [backupMetric(BackupMetric.ApplicationsNotReady, 'Maximum', hourly)]),
        ],
      ],
    });
  }
}

/** The stale-backup alarm's window: two schedule intervals, as whole periods CloudWatch accepts. */
export function staleness(interval: Duration): { period: Duration; periods: number; window: Duration } {
  const window = Duration.seconds(interval.toSeconds() * 2);
  // CloudWatch periods of an hour or more evaluate over at most 7 days.
  if (window.toSeconds() > Duration.days(7).toSeconds()) {
    throw new Error(`schedules.backup: runs ${interval.toHumanString()} apart cannot be watched for staleness; CloudWatch alarms look back at most 7 days, so schedule at least every 3.5 days`);
  }
  const period = Duration.seconds(Math.min(interval.toSeconds(), Duration.days(1).toSeconds()));
  return { period, periods: Math.ceil(window.toSeconds() / period.toSeconds()), window };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
