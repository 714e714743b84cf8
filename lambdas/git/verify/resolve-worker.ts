import { parentPort, workerData } from 'node:worker_threads';
import { ObjectChecker } from './object-checker.js';
import type { PackTable } from './object-table.js';
import { PackFile } from './pack-file.js';
import { resolveDeltaTrees } from './resolve-deltas.js';

/** What index-pack hands each resolver worker; the arrays are shared, not copied. */
export interface ResolveWorkerData {
  table: PackTable;
  path: string;
  packOffset: number;
  roots: Int32Array;
  nextRoot: Int32Array;
}

const { table, path, packOffset, roots, nextRoot } = workerData as ResolveWorkerData;
const file = new PackFile(path, packOffset, table);
const checker = new ObjectChecker(table.objectFormat);
try {
  resolveDeltaTrees(table, file, roots, nextRoot, checker);
} finally {
  file.close();
}
const { references, gitmodules, gitattributes, findings } = checker;
const plain = (list: typeof references) => ({ ids: list.ids, types: list.types, from: list.from, length: list.length });
parentPort!.postMessage(
  {
    findings: { errors: findings.errors, warnings: findings.warnings, dropped: [...findings.dropped] },
    references: plain(references),
    gitmodules: plain(gitmodules),
    gitattributes: plain(gitattributes),
    lfsPointers: [...checker.lfsPointers],
  },
  [references.ids.buffer, references.types.buffer, references.from.buffer] as ArrayBuffer[],
);
