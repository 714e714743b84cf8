import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { Store } from '../store/store.js';

/**
 * Where a backup run keeps what its steps produced, so the report can gather results of any
 * number of repositories without passing them through Step Functions payloads.
 */
export const runKeys = {
  report: (runId: string) => `runs/${runId}.json`,
  planItems: (runId: string) => `runs/${runId}/plan-items.json`,
  planResults: (runId: string) => `runs/${runId}/plan-results.json`,
  repoResult: (runId: string, url: string) => `runs/${runId}/repos/${digest(url)}.json`,
  verifyResult: (runId: string, bundle: string) => `runs/${runId}/verify/${digest(bundle)}.json`,
  lastSuccess: () => 'runs/last-success.json',
};

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

export async function putJson(store: Store, key: string, value: unknown): Promise<void> {
  await store.put(key, `${JSON.stringify(value, null, 2)}\n`, { contentType: 'application/json' });
}

export async function getJson<T>(store: Store, key: string): Promise<T | undefined> {
  const text = await store.getText(key);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

// Results are small and often in another region: many reads at once, or a large run outlasts the report.
const READ_CONCURRENCY = 32;

/** Every JSON object under a prefix, in key order. */
export async function listJson<T>(store: Store, prefix: string): Promise<T[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) if (key.endsWith('.json')) keys.push(key);
  const limit = pLimit(READ_CONCURRENCY);
  const values = await Promise.all(keys.sort().map((key) => limit(() => getJson<T>(store, key))));
  return values.filter((value): value is Awaited<T> => value !== undefined) as T[];
}
