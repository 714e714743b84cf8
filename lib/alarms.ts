import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME, type BackupMetricName } from '../lambdas/shared/metrics.js';

interface AlarmRule {
  threshold: number;
  comparisonOperator: ComparisonOperator;
  treatMissingData: TreatMissingData;
  evaluationPeriods: number;
  datapointsToAlarm?: number;
}

/** A run-level metric the report or verify function emits (dimension `service` only, as Powertools adds it). */
export function backupMetric(name: BackupMetricName, statistic = 'Sum', period = Duration.minutes(5)): Metric {
  return new Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { service: SERVICE_NAME }, statistic, period });
}

/**
 * Alarms that notify one topic, each declared in one line that says what it watches:
 * `alarms.whenAny('BundleFailedVerification', metric, 'why a person should care')`.
 */
export class AlarmFactory extends Construct {
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, private readonly topic: ITopic) {
    super(scope, id);
  }

  /** Alarms on any non-zero datapoint; no data means nothing happened, which is not this alarm's concern. */
  whenAny(id: string, metric: IMetric, description: string): Alarm {
    return this.add(id, metric, description, {
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      evaluationPeriods: 1,
    });
  }

  /** Alarms when a metric that should keep arriving stays below 1 (or absent) for `periods` periods in a row. */
  whenAbsent(id: string, metric: IMetric, periods: number, description: string): Alarm {
    return this.add(id, metric, description, {
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      // A run that never happens emits nothing: silence is the failure this alarm exists for.
      treatMissingData: TreatMissingData.BREACHING,
      evaluationPeriods: periods,
      datapointsToAlarm: periods,
    });
  }

  private add(
    id: string,
    metric: IMetric,
    description: string,
    props: AlarmRule,
  ): Alarm {
    const alarm = new Alarm(this, id, { metric, alarmDescription: description, ...props });
    const action = new SnsAction(this.topic);
    alarm.addAlarmAction(action);
    // Tell the same people when it clears, so nobody chases a problem that has gone.
    alarm.addOkAction(action);
    this.alarms.push(alarm);
    return alarm;
  }
}
