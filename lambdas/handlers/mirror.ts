import type { MirrorItem } from '../backup/events.js';
import { mirrorStep, type RepoRunResult } from '../backup/steps.js';
import { logger } from '../shared/powertools.js';
import { extraCredentialsOf, handlerConfig } from './handler-config.js';
import { backupHandler } from './middleware.js';

export const handler = backupHandler(async (item: MirrorItem): Promise<RepoRunResult> => {
  const config = handlerConfig();
  const extraCredentials = extraCredentialsOf(config);
  const result = await mirrorStep(config.store, item, { extraRefPatterns: config.refs, ...(extraCredentials ? { extraCredentials } : {}) });
  if (result.status === 'failed') logger.error('mirror failed', { url: result.url, error: result.error });
  else logger.info('mirror done', { url: result.url, status: result.status, bytes: result.bytes });
  return result;
});
