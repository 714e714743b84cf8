import type { ObjectFormat } from './ref-advertisement.js';

/**
 * The text that precedes the pack in a bundle (gitformat-bundle): v2 for SHA-1, v3 with an
 * `@object-format` capability for SHA-256. Refs are written sorted, HEAD last, as
 * `git bundle create --all` does; a full mirror has no prerequisites.
 */
export function bundleHeader(refs: ReadonlyMap<string, string>, objectFormat: ObjectFormat): Buffer {
  const lines = objectFormat === 'sha1' ? ['# v2 git bundle'] : ['# v3 git bundle', `@object-format=${objectFormat}`];
  const names = [...refs.keys()].filter((name) => name !== 'HEAD').sort(compareBytes);
  for (const name of names) lines.push(`${refs.get(name)} ${name}`);
  const head = refs.get('HEAD');
  if (head) lines.push(`${head} HEAD`);
  return Buffer.from(`${lines.join('\n')}\n\n`, 'utf8');
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
