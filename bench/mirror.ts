/**
 * npm run bench:mirror — argocd-dr mirror against native git on the same server, in one run.
 *
 * For a generated ≥300 MB / ≥400k-object repository and a ~30 MB one, served by git http-backend
 * through the test bridge (in its own process), alternates 3 rounds of
 *   native: git clone --mirror <url> + git bundle create --all
 *   ours:   argocd-dr mirror <url> into an empty store
 * and prints medians, the ratio and peak RSS. Then re-checks 1,000 unchanged repositories at
 * concurrency 32. Targets: ≤ 0.35× native wall time, ≤ 150 MB RSS, 1,000 unchanged in ≤ 20 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { BENCH_REPOS, defaultCacheDir, ensureRepo } from './generate-repo.js';
import { formatTable, measure, median, requireGnuTime, runChecked, type Measurement } from './support.js';

const ROUNDS = 3;
const UNCHANGED_REPOS = 1000;
const UNCHANGED_CONCURRENCY = 32;
const CLI = resolve('bin/argocd-dr.js');

async function startBridge(root: string): Promise<{ url: string; process: ChildProcess }> {
  const child = spawn(process.execPath, [resolve('dist/demo/git-http/serve-git-http.js'), '--root', root], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolveLine, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolveLine);
    child.once('exit', (code) => reject(new Error(`the git bridge exited with ${code}`)));
  });
  return { url: (JSON.parse(line) as { url: string }).url, process: child };
}

function check(m: Measurement, what: string): Measurement {
  if (m.code !== 0) throw new Error(`${what} failed (exit ${m.code}): ${m.stderr.slice(-2000)}`);
  return m;
}

async function nativeMirror(url: string, work: string): Promise<{ seconds: number; rss: number }> {
  const clone = join(work, 'native.git');
  const cloned = check(await measure('git', ['clone', '--mirror', '--quiet', url, clone]), 'git clone --mirror');
  const bundled = check(await measure('git', ['bundle', 'create', '--quiet', join(work, 'native.bundle'), '--all'], { cwd: clone }), 'git bundle create');
  return { seconds: cloned.seconds + bundled.seconds, rss: Math.max(cloned.maxRssMB, bundled.maxRssMB) };
}

async function oursMirror(urls: string[], store: string, concurrency = 4): Promise<Measurement> {
  return check(await measure(process.execPath, [CLI, 'mirror', '--json', '--store', store, '--concurrency', String(concurrency), ...urls]), 'argocd-dr mirror');
}

async function compareRepo(name: string, url: string): Promise<Record<string, string | number>> {
  const native: { seconds: number; rss: number }[] = [];
  const ours: Measurement[] = [];
  let identical = false;
  for (let round = 1; round <= ROUNDS; round++) {
    const work = await mkdtemp(join(tmpdir(), `argocd-dr-bench-${name}-`));
    try {
      native.push(await nativeMirror(url, work));
      const store = join(work, 'store');
      const m = await oursMirror([url], store);
      ours.push(m);
      const report = JSON.parse(m.stdout) as { repos: { status: string; bundle?: string }[] };
      if (report.repos[0]?.status !== 'mirrored') throw new Error(`argocd-dr mirror did not mirror ${url}: ${m.stdout}`);
      await runChecked('git', ['bundle', 'verify', '--quiet', join(store, report.repos[0].bundle!)], { cwd: join(work, 'native.git') });
      identical = Buffer.compare(await readFile(join(store, report.repos[0].bundle!)), await readFile(join(work, 'native.bundle'))) === 0;
      process.stderr.write(`${name} round ${round}: native ${native.at(-1)!.seconds.toFixed(2)} s, argocd-dr ${m.seconds.toFixed(2)} s (${m.maxRssMB.toFixed(0)} MB)\n`);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  const nativeSeconds = median(native.map((n) => n.seconds));
  const oursSeconds = median(ours.map((m) => m.seconds));
  return {
    repo: name,
    'native clone+bundle s (median)': nativeSeconds.toFixed(2),
    'argocd-dr s (median)': oursSeconds.toFixed(2),
    ratio: (oursSeconds / nativeSeconds).toFixed(3),
    'native peak RSS MB': Math.max(...native.map((n) => n.rss)).toFixed(0),
    'argocd-dr peak RSS MB': Math.max(...ours.map((m) => m.maxRssMB)).toFixed(0),
    'bundle identical to git bundle create --all': identical ? 'yes' : 'no',
  };
}

async function unchangedRepos(cacheDir: string): Promise<Record<string, string | number>> {
  // 1,000 copies of one small repository: each is its own URL, sidecar and ref listing.
  const root = join(cacheDir, 'many');
  const template = join(root, 'template.git');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  await runChecked('git', ['init', '--quiet', '--bare', template]);
  const work = await mkdtemp(join(tmpdir(), 'argocd-dr-bench-work-'));
  await runChecked('git', ['init', '--quiet', '-b', 'main', work]);
  await runChecked('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '--quiet', '--allow-empty', '-m', 'init'], { cwd: work });
  await runChecked('git', ['tag', 'v1'], { cwd: work });
  await runChecked('git', ['push', '--quiet', '--mirror', template], { cwd: work });
  await rm(work, { recursive: true, force: true });
  for (let i = 0; i < UNCHANGED_REPOS; i++) await cp(template, join(root, `org/repo-${i}.git`), { recursive: true });

  const bridge = await startBridge(root);
  const store = await mkdtemp(join(tmpdir(), 'argocd-dr-bench-store-'));
  try {
    const urls = Array.from({ length: UNCHANGED_REPOS }, (_, i) => `${bridge.url}/org/repo-${i}.git`);
    const first = await oursMirror(urls, store, UNCHANGED_CONCURRENCY);
    const second = await oursMirror(urls, store, UNCHANGED_CONCURRENCY);
    const statuses = (JSON.parse(second.stdout) as { repos: { status: string }[] }).repos.map((r) => r.status);
    const unchanged = statuses.filter((s) => s === 'unchanged').length;
    if (unchanged !== UNCHANGED_REPOS) throw new Error(`expected ${UNCHANGED_REPOS} unchanged repos, got ${unchanged}`);
    return {
      check: `${UNCHANGED_REPOS} unchanged repos, concurrency ${UNCHANGED_CONCURRENCY}`,
      'first run (mirror all) s': first.seconds.toFixed(2),
      're-check s': second.seconds.toFixed(2),
      'peak RSS MB': second.maxRssMB.toFixed(0),
    };
  } finally {
    bridge.process.kill('SIGTERM');
    await rm(store, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  }
}

await requireGnuTime();
const cacheDir = defaultCacheDir();
const log = (line: string) => process.stderr.write(`${line}\n`);
const big = await ensureRepo(cacheDir, 'big', { ...BENCH_REPOS.big, log });
const small = await ensureRepo(cacheDir, 'small', { ...BENCH_REPOS.small, log });
const bridge = await startBridge(cacheDir);
const rows: Record<string, string | number>[] = [];
try {
  for (const [name, repo] of [['small', small], ['big', big]] as const) {
    log(`${name}: ${(repo.packBytes / 1024 / 1024).toFixed(1)} MiB pack, ${repo.objects} objects`);
    rows.push(await compareRepo(`${name} (${(repo.packBytes / 1024 / 1024).toFixed(0)} MiB, ${repo.objects} objects)`, `${bridge.url}/${name}`));
  }
} finally {
  bridge.process.kill('SIGTERM');
}
console.log(formatTable(rows));
console.log();
console.log(formatTable([await unchangedRepos(cacheDir)]));
