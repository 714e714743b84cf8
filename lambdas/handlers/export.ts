import { eksAccess } from '../argocd/eks-access.js';
import type { ExportEvent, ExportStepResult } from '../backup/events.js';
import { exportStep } from '../backup/steps.js';
import { BackupMetric } from '../shared/metrics.js';
import { logger, metrics } from '../shared/powertools.js';
import { handlerConfig } from './handler-config.js';
import { backupHandler } from './middleware.js';
import { MetricUnit } from '@aws-lambda-powertools/metrics';

export const handler = backupHandler(async (event: ExportEvent): Promise<ExportStepResult> => {
  const { store } = handlerConfig();
  const { cluster } = event;
  const result = await exportStep(store, cluster.name, cluster.namespace, () => eksAccess(cluster.name, cluster.region));
  metrics.addDimension('Cluster', cluster.name);
  metrics.addMetric(BackupMetric.ExportFailed, MetricUnit.Count, result.status === 'failed' ? 1 : 0);
  if (result.status === 'failed') logger.error('export failed', { cluster: cluster.name, error: result.error });
  else logger.info('export done', { cluster: cluster.name, status: result.status });
  return result;
});
