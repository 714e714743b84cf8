import { createHash } from 'node:crypto';
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

/** Every JSON object under a prefix. */
export async function listJson<T>(store: Store, prefix: string): Promise<T[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) if (key.endsWith('.json')) keys.push(key);
  const values: T[] = [];
  for (const key of keys.sort()) {
    const value = await getJson<T>(store, key);
    if (value !== undefined) values.push(value);
  }
  return values;
}
