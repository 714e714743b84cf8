import type { ExtraCredentialsSource } from '../backup/steps.js';
import { readExtraRepoCredentials } from '../git/secrets-manager-credentials.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

/**
 * What every backup function reads from its environment (set by lib/backup-stack.ts). A missing
 * setting is a deployment bug: fail loudly with the variable's name.
 */
export interface HandlerConfig {
  store: Store;
  /** Run-scoped work files (the Distributed Map's items) live here: the regional WORK_BUCKET, else the store. */
  workStore: Store;
  refs: string[];
  extraRepos: string[];
  planConcurrency: number;
  /** Secrets Manager secret (name or ARN) with the extra repos' credentials (EXTRA_REPOS_SECRET), when configured. */
  extraReposSecret?: string;
}

// Kept across warm invocations (the S3 client and its connections with it), per environment.
let cached: { key: string; config: HandlerConfig } | undefined;

export function handlerConfig(env: NodeJS.ProcessEnv = process.env): HandlerConfig {
  const key = JSON.stringify([env.STORE, env.KMS_KEY_ID, env.WORK_BUCKET, env.REFS, env.EXTRA_REPOS, env.PLAN_CONCURRENCY, env.EXTRA_REPOS_SECRET]);
  if (cached?.key === key) return cached.config;
  const location = env.STORE;
  if (!location) throw new Error('STORE is not set: the function needs the vault location (s3://bucket/prefix)');
  const store = openStore(location, env.KMS_KEY_ID ? { kmsKeyId: env.KMS_KEY_ID } : {});
  const config: HandlerConfig = {
    store,
    workStore: env.WORK_BUCKET ? openStore(`s3://${env.WORK_BUCKET}`) : store,
    refs: jsonList(env, 'REFS'),
    extraRepos: jsonList(env, 'EXTRA_REPOS'),
    planConcurrency: Number(env.PLAN_CONCURRENCY ?? 16),
    ...(env.EXTRA_REPOS_SECRET ? { extraReposSecret: env.EXTRA_REPOS_SECRET } : {}),
  };
  cached = { key, config };
  return config;
}

/**
 * The extra repos' credentials, read from Secrets Manager when a repo first needs them: per invocation, so a
 * rotated secret is used by the next run.
 */
export function extraCredentialsOf(config: HandlerConfig): ExtraCredentialsSource | undefined {
  const secret = config.extraReposSecret;
  return secret ? () => readExtraRepoCredentials(secret) : undefined;
}

function jsonList(env: NodeJS.ProcessEnv, name: string): string[] {
  const text = env[name];
  if (!text) return [];
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new Error(`${name} must be a JSON array of strings`);
  return value;
}
