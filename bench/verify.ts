/**
 * npm run bench:verify — argocd-dr verify against git's own pack checks, in one run.
 *
 * On the same generated ≥300 MB / ≥400k-object repository as bench:mirror (and the ~30 MB one,
 * to show how memory grows with pack size), bundles it with `git bundle create --all`, then
 * alternates 3 rounds of
 *   native: git index-pack --strict --threads=2 on the bundle's pack
 *   ours:   argocd-dr verify <bundle>
 * printing medians, the ratio and peak RSS; `git fsck --full --strict` once, for reference.
 * Targets: ≤ 1.0× index-pack --strict, ≤ 1 GB peak RSS.
 */
import { open, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BENCH_REPOS, defaultCacheDir, ensureRepo } from './generate-repo.js';
import { formatTable, measure, median, requireGnuTime, runChecked, type Measurement } from './support.js';

const ROUNDS = 3;
const CLI = resolve('bin/argocd-dr.js');

function check(m: Measurement, what: string): Measurement {
  if (m.code !== 0) throw new Error(`${what} failed (exit ${m.code}): ${(m.stdout + m.stderr).slice(-3000)}`);
  return m;
}

/** Writes the pack inside a bundle to its own file, for git index-pack. */
async function extractPack(bundle: string, pack: string): Promise<void> {
  const handle = await open(bundle, 'r');
  try {
    const head = Buffer.alloc(1024 * 1024);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const end = head.subarray(0, bytesRead).indexOf('\n\n');
    const { size } = await handle.stat();
    const body = Buffer.alloc(size - end - 2);
    await handle.read(body, 0, body.length, end + 2);
    await writeFile(pack, body);
  } finally {
    await handle.close();
  }
}

async function compare(name: string, label: string, repo: string, fsck: boolean): Promise<Record<string, string | number>> {
  const work = await mkdtemp(join(tmpdir(), `argocd-dr-bench-verify-${name}-`));
  try {
    const bundle = join(work, `${name}.bundle`);
    await runChecked('git', ['bundle', 'create', '--quiet', bundle, '--all'], { cwd: repo });
    const pack = join(work, `${name}.pack`);
    await extractPack(bundle, pack);
    const scratch = join(work, 'scratch');
    await runChecked('git', ['init', '--quiet', '--bare', scratch]);
    const native: Measurement[] = [];
    const ours: Measurement[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await rm(join(work, 'x.idx'), { force: true });
      native.push(check(await measure('git', ['index-pack', '--strict', '--threads=2', '-o', join(work, 'x.idx'), pack], { cwd: scratch }), 'git index-pack --strict'));
      const m = check(await measure(process.execPath, [CLI, 'verify', '--json', bundle]), 'argocd-dr verify');
      const report = JSON.parse(m.stdout) as { bundles: { ok: boolean; objects: number; errors: unknown[] }[] };
      if (!report.bundles[0]?.ok) throw new Error(`argocd-dr verify rejected a bundle git accepts: ${JSON.stringify(report.bundles[0]?.errors).slice(0, 2000)}`);
      ours.push(m);
      process.stderr.write(`${name} round ${round}: index-pack --strict ${native.at(-1)!.seconds.toFixed(2)} s, argocd-dr verify ${m.seconds.toFixed(2)} s (${m.maxRssMB.toFixed(0)} MB)\n`);
    }
    const row: Record<string, string | number> = {
      repo: label,
      'index-pack --strict s (median)': median(native.map((m) => m.seconds)).toFixed(2),
      'argocd-dr verify s (median)': median(ours.map((m) => m.seconds)).toFixed(2),
      ratio: (median(ours.map((m) => m.seconds)) / median(native.map((m) => m.seconds))).toFixed(3),
      'index-pack peak RSS MB': Math.max(...native.map((m) => m.maxRssMB)).toFixed(0),
      'argocd-dr peak RSS MB': Math.max(...ours.map((m) => m.maxRssMB)).toFixed(0),
    };
    if (fsck) {
      const f = check(await measure('git', ['fsck', '--full', '--strict', '--no-dangling'], { cwd: repo }), 'git fsck');
      row['git fsck --full --strict s'] = `${f.seconds.toFixed(2)} (${f.maxRssMB.toFixed(0)} MB)`;
    }
    return row;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await requireGnuTime();
const cacheDir = defaultCacheDir();
const log = (line: string) => process.stderr.write(`${line}\n`);
const small = await ensureRepo(cacheDir, 'small', { ...BENCH_REPOS.small, log });
const big = await ensureRepo(cacheDir, 'big', { ...BENCH_REPOS.big, log });
const rows = [];
for (const [name, repo] of [['small', small], ['big', big]] as const) {
  rows.push(await compare(name, `${name} (${(repo.packBytes / 1024 / 1024).toFixed(0)} MiB, ${repo.objects} objects)`, repo.dir, true));
}
console.log(formatTable(rows));
