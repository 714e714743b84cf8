import type { PlanEvent, PlanStepResult } from '../backup/events.js';
import { planStep } from '../backup/steps.js';
import { logger } from '../shared/powertools.js';
import { handlerConfig } from './handler-config.js';
import { backupHandler } from './middleware.js';

export const handler = backupHandler(async (event: PlanEvent): Promise<PlanStepResult> => {
  const { store, extraRepos, refs, planConcurrency } = handlerConfig();
  const plan = await planStep(store, event.runId, event.exports, { extraRepos, extraRefPatterns: refs, concurrency: planConcurrency });
  logger.info('plan done', { ...plan });
  return plan;
});
