import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ReportEvent, StepError } from '../backup/events.js';
import { BackupMetric } from '../shared/metrics.js';
import { reportStep, sweepReportStep, type RunReport } from '../backup/steps.js';
import { logger, metrics } from '../shared/powertools.js';
import { handlerConfig } from './handler-config.js';
import { backupHandler } from './middleware.js';

function describeStepError(step: string, error: StepError | undefined): string | undefined {
  return error ? `the ${step} step failed: ${error.Error ?? 'error'}${error.Cause ? ` (${error.Cause.slice(0, 500)})` : ''}` : undefined;
}

export const handler = backupHandler(async (event: ReportEvent): Promise<Pick<RunReport, 'runId' | 'result' | 'totals'>> => {
  const { store, workStore } = handlerConfig();
  const planError = describeStepError('plan', event.planError);
  if (event.sweep === 'verify') {
    // A sweep is no backup: it must not count as one, or it would hide a stale backup.
    const stepError = planError ?? describeStepError('verify', event.verifyError);
    const sweep = await sweepReportStep(store, event.runId, workStore, stepError);
    // The verify function counted the bundles it checked; what it never reached is counted here, so the alarm sees it.
    const unverified = sweep.verification.filter((report) => report.errors.some((error) => error.id === 'verifyNoResult')).length;
    if (stepError || unverified > 0) metrics.addMetric(BackupMetric.BundlesFailedVerification, MetricUnit.Count, unverified + (stepError ? 1 : 0));
    logger.info(`verify sweep ${sweep.result}`, { runId: sweep.runId, totals: sweep.totals });
    return { runId: sweep.runId, result: sweep.result, totals: sweep.totals };
  }
  const report = await reportStep(store, event.runId, event.exports ?? [], workStore, planError);
  if (event.startedAt) metrics.addMetric(BackupMetric.RunDuration, MetricUnit.Seconds, Math.round((Date.now() - Date.parse(event.startedAt)) / 1000));
  for (const result of ['Succeeded', 'PartiallyFailed', 'Failed'] as const) metrics.addMetric(BackupMetric[`Run${result}`], MetricUnit.Count, report.result === result ? 1 : 0);
  metrics.addMetric(BackupMetric.ReposMirrored, MetricUnit.Count, report.totals.reposMirrored);
  metrics.addMetric(BackupMetric.ReposUnchanged, MetricUnit.Count, report.totals.reposUnchanged);
  metrics.addMetric(BackupMetric.ReposFailed, MetricUnit.Count, report.totals.reposFailed);
  metrics.addMetric(BackupMetric.BytesMirrored, MetricUnit.Bytes, report.totals.bytesMirrored);
  metrics.addMetric(BackupMetric.ApplicationsNotReady, MetricUnit.Count, report.totals.applicationsNotReady ?? 0);
  if (report.lastSuccessAt) metrics.addMetric(BackupMetric.SecondsSinceLastSuccess, MetricUnit.Seconds, Math.round((Date.now() - Date.parse(report.lastSuccessAt)) / 1000));
  const log = report.result === 'Succeeded' ? logger.info.bind(logger) : logger.error.bind(logger);
  log(`backup run ${report.result}`, { runId: report.runId, totals: report.totals, problems: report.problems.slice(0, 20) });
  return { runId: report.runId, result: report.result, totals: report.totals };
});
