import type { PlanEvent, PlanStepResult } from '../backup/events.js';
import { planStep, sweepPlanStep } from '../backup/steps.js';
import { logger } from '../shared/powertools.js';
import { extraCredentialsOf, handlerConfig } from './handler-config.js';
import { backupHandler } from './middleware.js';

export const handler = backupHandler(async (event: PlanEvent): Promise<PlanStepResult> => {
  const config = handlerConfig();
  const { store, workStore, extraRepos, refs, planConcurrency } = config;
  const extraCredentials = extraCredentialsOf(config);
  const plan = event.sweep === 'verify'
    ? await sweepPlanStep(store, event.runId, workStore)
    : await planStep(store, event.runId, event.exports ?? [], { extraRepos, extraRefPatterns: refs, concurrency: planConcurrency, itemsStore: workStore, ...(extraCredentials ? { extraCredentials } : {}) });
  logger.info('plan done', { ...plan });
  return plan;
});
