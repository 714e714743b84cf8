/**
 * npm run bench:export — argocd-dr export against kubectl, in one run.
 *
 * 10,000 Applications over 200 AppProjects, served in pages of at most 500 by the
 * kube-apiserver-like test server (in its own process, over TLS). Alternates 3 rounds of
 *   kubectl get applications -A -o yaml        (where kubectl is installed)
 *   argocd-dr export --kubeconfig … --store …  (everything: ConfigMaps, Secrets, projects, apps, CRDs)
 * and prints medians, the ratio and peak RSS. Targets: ≤ 15 s and ≤ 300 MB for argocd-dr.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { formatTable, measure, median, requireGnuTime, type Measurement } from './support.js';

const ROUNDS = 3;
const APPS = 10_000;
const PROJECTS = 200;
const CLI = resolve('bin/argocd-dr.js');

function check(m: Measurement, what: string): Measurement {
  if (m.code !== 0) throw new Error(`${what} failed (exit ${m.code}): ${(m.stdout + m.stderr).slice(-2000)}`);
  return m;
}

async function hasKubectl(): Promise<boolean> {
  return new Promise((done) => {
    const child = spawn('kubectl', ['version', '--client'], { stdio: 'ignore' });
    child.on('error', () => done(false));
    child.on('exit', (code) => done(code === 0));
  });
}

await requireGnuTime();
const work = await mkdtemp(join(tmpdir(), 'argocd-dr-bench-export-'));
const kubeconfig = join(work, 'kubeconfig');
const server = spawn(process.execPath, [resolve('dist/demo/kube/serve-kube.js'), '--apps', String(APPS), '--projects', String(PROJECTS), '--page-size', '500', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  await new Promise<string>((done, fail) => {
    createInterface({ input: server.stdout! }).once('line', done);
    server.once('exit', (code) => fail(new Error(`the kube server exited with ${code}`)));
  });
  const kubectl = await hasKubectl();
  if (!kubectl) process.stderr.write('kubectl is not installed: comparing with it is skipped\n');
  const ours: Measurement[] = [];
  const theirs: Measurement[] = [];
  let counts = '';
  for (let round = 1; round <= ROUNDS; round++) {
    if (kubectl) theirs.push(check(await measure('kubectl', ['--kubeconfig', kubeconfig, 'get', 'applications', '-A', '-o', 'yaml'], { stdout: 'ignore' }), 'kubectl'));
    const store = join(work, `store-${round}`);
    const m = check(await measure(process.execPath, [CLI, 'export', '--kubeconfig', kubeconfig, '--store', store, '--json']), 'argocd-dr export');
    const report = JSON.parse(m.stdout) as { counts: Record<string, number> };
    if (report.counts.Application !== APPS + 1) throw new Error(`expected ${APPS + 1} Applications, got ${report.counts.Application}`);
    counts = Object.entries(report.counts).map(([kind, n]) => `${n} ${kind}`).join(', ');
    ours.push(m);
    process.stderr.write(`round ${round}: ${kubectl ? `kubectl ${theirs.at(-1)!.seconds.toFixed(2)} s, ` : ''}argocd-dr ${m.seconds.toFixed(2)} s (${m.maxRssMB.toFixed(0)} MB)\n`);
  }
  const row: Record<string, string> = {
    workload: `${APPS} Applications, ${PROJECTS} projects, pages of 500`,
    'argocd-dr export s (median)': median(ours.map((m) => m.seconds)).toFixed(2),
    'argocd-dr peak RSS MB': Math.max(...ours.map((m) => m.maxRssMB)).toFixed(0),
  };
  if (kubectl) {
    row['kubectl get applications -A -o yaml s (median)'] = median(theirs.map((m) => m.seconds)).toFixed(2);
    row['ratio'] = (median(ours.map((m) => m.seconds)) / median(theirs.map((m) => m.seconds))).toFixed(3);
    row['kubectl peak RSS MB'] = Math.max(...theirs.map((m) => m.maxRssMB)).toFixed(0);
  }
  console.log(formatTable([row]));
  console.log(`exported: ${counts}`);
} finally {
  server.kill('SIGTERM');
  await rm(work, { recursive: true, force: true });
}
