import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshInstallation, leakedSecrets } from '../../demo/argocd-installation.js';
import type { DemoRepoName } from '../../demo/demo-repos.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../demo/environment.js';
import { git, gitRefs, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { argocdDr, CLI } from '../support/cli.js';
import { ARGO, startCluster, writes, type Cluster } from './restore-env.js';

/** The commands of the runbook's `sh` blocks, in order, as written (backslash continuations joined). */
async function runbookCommands(): Promise<string[]> {
  const text = await readFile(path.resolve('docs/runbook.md'), 'utf8');
  const commands: string[] = [];
  for (const block of text.matchAll(/^```sh\n([^]*?)^```$/gm)) {
    for (const line of block[1]!.replace(/\\\n\s*/g, ' ').split('\n')) if (line.trim() && !line.trim().startsWith('#')) commands.push(line.trim());
  }
  return commands;
}

// kubectl is not on every CI machine: only the two steps that run it are skipped without it.
const hasKubectl = (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, 'kubectl')));

// The new Git host's token: planted, so that any output quoting it fails the test.
const NEW_HOST = { username: 'dr-restore', password: 'PLANTED-runbook-new-git-host-token-5d2e' };

/** The runbook's world: the backed-up demo installation (cluster "prod"), a new cluster, a new Git host. */
let source: DemoEnvironment;
let target: Cluster;
let newGit: GitHttpServer;
let newGitRoot: string;
let store: string;
let work: string;
let run: (command: string) => Promise<{ stdout: string; stderr: string }>;
let commands: string[];

beforeAll(async () => {
  source = await startDemoEnvironment({ dir: await tempDir('runbook-source'), context: 'prod' });
  target = await startCluster(freshInstallation(), 'dr-cluster');
  newGitRoot = await tempDir('runbook-new-git');
  newGit = await startGitHttpServer({ root: newGitRoot, receivePack: true, auth: NEW_HOST });
  store = await tempDir('runbook-store');
  const backup = await argocdDr(['backup', '--kubeconfig', source.kubeconfig, '--store', store, '--json']);
  if (backup.code !== 0) throw new Error(`backup failed (${backup.code}): ${backup.stdout}${backup.stderr}`);

  work = await tempDir('runbook-work');
  const bin = await tempDir('runbook-bin');
  await writeFile(path.join(bin, 'argocd-dr'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(path.join(bin, 'argocd-dr'), 0o755);
  // Step 0's variables. {path} in GIT_TO stays literal: the shell must pass it through untouched.
  const env = {
    ...process.env, PATH: `${bin}:${process.env.PATH}`, HOME: work, STORE: store, CLUSTER: 'prod', NEW_KUBECONFIG: target.kubeconfig,
    GIT_TO: `${newGit.url}/{path}.git`, ARGOCD_DR_GIT_USERNAME: NEW_HOST.username, ARGOCD_DR_GIT_TOKEN: NEW_HOST.password,
    // An explicit point in time (the backup just taken), as step 2 lets the operator choose: every restore and restore-git honours it.
    POINT_IN_TIME: `--at ${new Date().toISOString()}`,
  };
  run = async (command: string) => {
    try {
      const { stdout, stderr } = await promisify(execFile)('sh', ['-c', command], { cwd: work, env, maxBuffer: 64 * 1024 * 1024 });
      return { stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      throw new Error(`runbook command failed (${e.code}): ${command}\n${e.stdout}\n${e.stderr}`, { cause: error });
    }
  };
  commands = await runbookCommands();
}, 120_000);

afterAll(async () => {
  await Promise.all([source?.stop(), target?.server.close(), newGit?.close()]);
  await removeTempDirs();
});

const REPOS: DemoRepoName[] = ['billing', 'clusterAddons', 'guestbook', 'values'];
const newUrl = (name: DemoRepoName) => `${newGit.url}/${source.repos[name].path.replace(/\.git$/, '')}.git`;
const automated = () => target.server.list(ARGO, 'Application')
  .map((app) => (app.spec as { syncPolicy?: { automated?: object } }).syncPolicy?.automated)
  .filter((policy) => policy !== undefined);
const resumeCommands = async () => (await readFile(path.join(work, 'restore.log'), 'utf8')).split('\n').filter((line) => /^ {2}kubectl .* patch /.test(line));
const repoUrlOf = (name: string) => (target.server.list(ARGO, 'Application').find((app) => app.metadata?.name === name)?.spec as { source?: { repoURL?: string } }).source?.repoURL;

// The steps share the new cluster and Git host, in the runbook's order; each it is one step.
describe('docs/runbook.md, its sh blocks run as written', () => {
  it('has the steps in the recovery order: history, Git plan, dry run, restore with sync paused, restore-git, check, resume', () => {
    expect(commands.map((c) => c.split(' ').slice(0, 2).join(' '))).toEqual([
      'argocd-dr history', 'argocd-dr restore-git', 'cat git-plan.txt', 'argocd-dr restore', 'argocd-dr restore', 'cat restore.log',
      'argocd-dr restore-git', 'kubectl --kubeconfig', "grep '^",
    ]);
    expect(commands[1]).toContain('--dry-run');
    expect(commands[3]).toContain('--dry-run');
    expect(commands[4]).toContain('--pause-sync');
    expect(commands[6]).not.toContain('--dry-run');
    for (const i of [1, 3, 4, 6]) expect(commands[i]).toMatch(/ \$POINT_IN_TIME( |$)/);
  });

  it('step 2: history lists the backup', async () => {
    expect((await run(commands[0]!)).stdout).toMatch(/cluster prod .*\n.*STORED/);
  });

  it('step 3: the Git plan gives --map-repo values from GIT_TO; the dry run rewrites the Applications with them and changes nothing', async () => {
    await run(commands[1]!);
    const plan = (await run(commands[2]!)).stdout;
    for (const name of REPOS) expect(plan).toContain(`  --map-repo ${source.repoUrls[name]}=${newUrl(name)}\n`);
    expect(plan).toMatch(/^4 planned, 0 failed$/m);
    // Only the store was read: the new Git host saw nothing.
    expect(newGit.requests).toEqual([]);

    const planned = await run(commands[3]!);
    expect(planned.stdout).toContain('create Application argocd/guestbook');
    expect(planned.stdout).toContain(newUrl('guestbook'));
    expect(writes(target.server)).toEqual([]);
    expect(leakedSecrets(planned.stdout + planned.stderr)).toEqual([]);
  });

  it('step 4: restore with automated sync paused, pointing at the new Git host', async () => {
    await run(commands[4]!);
    const log = (await run(commands[5]!)).stdout;
    expect(log).toContain('paused automated sync of');
    // Removed, not `enabled: false` (which CRDs before Argo CD 3.1 prune): off on every version.
    expect((await resumeCommands()).length).toBeGreaterThan(2);
    expect(automated()).toEqual([]);
    expect(repoUrlOf('guestbook')).toBe(newUrl('guestbook'));
    expect(leakedSecrets(log)).toEqual([]);
  });

  it('step 5: restore-git pushes every repository into the empty ones created on the new host', async () => {
    // What the Git host's "new repository" would give: empty bare repositories at the planned URLs.
    for (const name of REPOS) {
      const dir = path.join(newGitRoot, `${source.repos[name].path.replace(/\.git$/, '')}.git`);
      await mkdir(path.dirname(dir), { recursive: true });
      await git(['init', '-q', '--bare', '--initial-branch=main', dir]);
    }
    const pushed = await run(commands[6]!);
    expect(pushed.stdout).toMatch(/^4 restored, 0 already-restored, 0 empty, 0 failed$/m);
    // The values step 4 restored with are the ones the push reports.
    const mapRepo = (text: string) => text.split('\n').filter((line) => line.startsWith('  --map-repo '));
    expect(mapRepo(pushed.stdout)).toEqual(mapRepo(await readFile(path.join(work, 'git-plan.txt'), 'utf8')));
    for (const name of REPOS) {
      expect(pushed.stdout).toContain(`  --map-repo ${source.repoUrls[name]}=${newUrl(name)}\n`);
      const restored = path.join(newGitRoot, `${source.repos[name].path.replace(/\.git$/, '')}.git`);
      expect(await gitRefs(restored)).toEqual(await gitRefs(source.repos[name].dir));
    }
    expect(`${pushed.stdout}${pushed.stderr}`).not.toContain(NEW_HOST.password);
  });

  it.skipIf(!hasKubectl)('step 6 (needs kubectl): the Applications are listed', async () => {
    expect((await run(commands[7]!)).stdout).toMatch(/^NAME\s[^]*\nguestbook\s/m);
  });

  it.skipIf(!hasKubectl)('step 7 (needs kubectl): the printed commands resume automated sync', async () => {
    await run(commands[8]!);
    expect(automated()).toHaveLength((await resumeCommands()).length);
    expect(automated()).toContainEqual({ prune: true, selfHeal: true });
    const resumed = target.server.requests.filter((r) => r.method === 'PATCH' && r.query.includes('fieldManager=kubectl'));
    expect(resumed.length).toBe(automated().length);
  });
});
