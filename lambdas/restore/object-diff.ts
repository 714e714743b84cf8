import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import type { KubeObject } from '../argocd/clean.js';

// kubectl apply copies a whole Secret, values included, into this annotation.
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** An object as canonical YAML (keys sorted, as export.yaml writes it), for comparing and diffing. */
export function canonicalYaml(object: KubeObject | undefined): string {
  return object === undefined ? '' : stringify(object, { sortMapEntries: true, lineWidth: 0 });
}

/**
 * A unified diff from the live object to the backup's. A Secret's values never appear: each one
 * reads `***`, and `*** (live)` / `*** (backup)` where they differ, so the diff still shows
 * which keys change.
 */
export function objectDiff(label: string, live: KubeObject | undefined, backup: KubeObject | undefined): string {
  const [a, b] = live?.kind === 'Secret' || backup?.kind === 'Secret' ? maskSecretPair(live, backup) : [live, backup];
  return createTwoFilesPatch(live ? `live/${label}` : '/dev/null', backup ? `backup/${label}` : '/dev/null', canonicalYaml(a), canonicalYaml(b), undefined, undefined, { context: 3 });
}

function maskSecretPair(live: KubeObject | undefined, backup: KubeObject | undefined): [KubeObject | undefined, KubeObject | undefined] {
  const a = live && structuredClone(live);
  const b = backup && structuredClone(backup);
  for (const field of ['data', 'stringData']) {
    maskValues(a?.[field] as Record<string, unknown> | undefined, b?.[field] as Record<string, unknown> | undefined);
  }
  maskValues(a?.metadata?.annotations, b?.metadata?.annotations, (key) => key === LAST_APPLIED);
  return [a, b];
}

function maskValues(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined, only: (key: string) => boolean = () => true): void {
  for (const key of new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])) {
    if (!only(key)) continue;
    const same = a?.[key] === b?.[key];
    if (a && key in a) a[key] = same ? '***' : '*** (live)';
    if (b && key in b) b[key] = same ? '***' : '*** (backup)';
  }
}
