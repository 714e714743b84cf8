import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { VerifyItem } from '../backup/events.js';
import { verifyStep } from '../backup/steps.js';
import { BackupMetric } from '../shared/metrics.js';
import type { BundleReport } from '../git/verify/findings.js';
import { logger, metrics } from '../shared/powertools.js';
import { handlerConfig } from './handler-config.js';
import { backupHandler } from './middleware.js';

export const handler = backupHandler(async (item: VerifyItem): Promise<BundleReport> => {
  const { store } = handlerConfig();
  const report = await verifyStep(store, item.runId, item.bundle);
  metrics.addMetric(report.ok ? BackupMetric.BundlesVerified : BackupMetric.BundlesFailedVerification, MetricUnit.Count, 1);
  if (report.ok) logger.info('bundle verified', { bundle: report.bundle, objects: report.objects, seconds: report.seconds });
  else logger.error('bundle failed verification', { bundle: report.bundle, errors: report.errors.slice(0, 10) });
  return report;
});
