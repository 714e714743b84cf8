import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ReportEvent } from '../backup/events.js';
import { reportStep, type RunReport } from '../backup/steps.js';
import { logger, metrics } from '../shared/powertools.js';
import { handlerConfig } from './handler-config.js';
import { backupHandler } from './middleware.js';

export const handler = backupHandler(async (event: ReportEvent): Promise<Pick<RunReport, 'runId' | 'result' | 'totals'>> => {
  const { store } = handlerConfig();
  const report = await reportStep(store, event.runId, event.exports);
  for (const result of ['Succeeded', 'PartiallyFailed', 'Failed'] as const) metrics.addMetric(`Run${result}`, MetricUnit.Count, report.result === result ? 1 : 0);
  metrics.addMetric('ReposMirrored', MetricUnit.Count, report.totals.reposMirrored);
  metrics.addMetric('ReposUnchanged', MetricUnit.Count, report.totals.reposUnchanged);
  metrics.addMetric('ReposFailed', MetricUnit.Count, report.totals.reposFailed);
  metrics.addMetric('BytesMirrored', MetricUnit.Bytes, report.totals.bytesMirrored);
  if (report.lastSuccessAt) metrics.addMetric('SecondsSinceLastSuccess', MetricUnit.Seconds, Math.round((Date.now() - Date.parse(report.lastSuccessAt)) / 1000));
  const log = report.result === 'Succeeded' ? logger.info.bind(logger) : logger.error.bind(logger);
  log(`backup run ${report.result}`, { runId: report.runId, totals: report.totals });
  return { runId: report.runId, result: report.result, totals: report.totals };
});
