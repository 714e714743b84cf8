import { execFileSync, spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoResult } from '../../demo/demo.js';
import { leakedSecrets } from '../../demo/argocd-installation.js';
import { DEMO_REPOS } from '../../demo/demo-repos.js';
import { gitSync, removeTempDirs, tempDir } from '../../demo/git.js';
import { argocdDr, CLI } from '../support/cli.js';

/** Every file under dir, relative to it, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

/** True when something still listens on the URL's port. */
function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Processes whose environment names a demo data directory: git http-backend and the git it starts. */
async function demoProcesses(): Promise<string[]> {
  const found: string[] = [];
  const marker = `GIT_PROJECT_ROOT=${path.join(realpathSync(os.tmpdir()), 'argocd-dr-demo-servers-')}`;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '');
    if (environ.includes(marker)) found.push(pid);
  }
  return found;
}

const demoDataDirs = async () => (await readdir(os.tmpdir())).filter((name) => name.startsWith('argocd-dr-demo-servers-'));

describe('argocd-dr demo', () => {
  let cwd: string;
  let first: { code: number; stdout: string; stderr: string };
  let dataDirsBefore: string[];

  beforeAll(async () => {
    cwd = await tempDir('cli-demo-cwd');
    dataDirsBefore = await demoDataDirs();
    first = await argocdDr(['demo'], {}, { cwd });
  }, 300_000);

  afterAll(removeTempDirs);

  it('backs up for real into ./argocd-dr-demo: export, manifest, a verified bundle and sidecar per repository, the run report', async () => {
    // stderr carries the backup's progress lines and its warning that export.yaml holds Secrets.
    expect(first.stderr).not.toMatch(/unexpected error/);
    expect(first.stderr).toMatch(/holds Argo CD's Secrets/);
    expect(first.code).toBe(0);
    const store = path.join(cwd, 'argocd-dr-demo');
    const files = await tree(store);
    expect(files).toEqual(expect.arrayContaining(['.argocd-dr-demo', 'argocd/argocd-demo/export.yaml', 'argocd/argocd-demo/manifest.json']));
    const host = /Local Git server http:\/\/([^ ]+)/.exec(first.stdout)![1]!;
    for (const repoPath of Object.values(DEMO_REPOS)) {
      const stem = `git/${host}/${repoPath.replace(/\.git$/, '')}`;
      expect(files).toContain(`${stem}.bundle`);
      expect(files).toContain(`${stem}.json`);
    }
    // runs/<run-id>.json, beside runs/last-success.json.
    const reports = files.filter((file) => /^runs\/backup-[^/]+\.json$/.test(file));
    expect(files).toContain('runs/last-success.json');
    expect(reports).toHaveLength(1);
    const report = JSON.parse(await readFile(path.join(store, reports[0]!), 'utf8')) as { result: string; runId: string };
    expect(report.result).toBe('Succeeded');
    expect(first.stdout).toContain(report.runId);

    // Every bundle but the damaged one is one git clones.
    const damaged = /flipped one bit at byte \d+ of (\S+)/.exec(first.stdout)![1]!;
    const clones = await tempDir('cli-demo-clones');
    for (const [i, bundle] of files.filter((file) => file.endsWith('.bundle')).entries()) {
      const clone = () => gitSync(['clone', '-q', '--mirror', path.join(store, bundle), path.join(clones, `${i}.git`)]);
      if (bundle === damaged) expect(clone).toThrow();
      else expect(clone).not.toThrow();
    }
  });

  it('prints the backup report, the damage, and verify catching it with the verifier\'s finding', () => {
    const damaged = /flipped one bit at byte \d+ of (\S+)/.exec(first.stdout)![1]!;
    expect(damaged).toMatch(/^git\/127\.0\.0\.1:\d+\/apps\/guestbook\.bundle$/);
    expect(first.stdout).toMatch(/1\. Backup into \.\/argocd-dr-demo/);
    expect(first.stdout).toMatch(/Succeeded/);
    expect(first.stdout).toContain('3. Verify the store: argocd-dr verify ./argocd-dr-demo');
    // The verify table: the damaged bundle FAILED with a finding, the three others ok.
    expect(first.stdout).toMatch(new RegExp(`FAILED\\s+${damaged.replace(/[.]/g, '\\.')}`));
    expect(first.stdout).toMatch(new RegExp(`${damaged.replace(/[.]/g, '\\.')}:\\n  error \\w+: `));
    expect(first.stdout).toContain('3 of 4 bundles passed verification');
    expect(first.stdout).toContain('Demo passed');
  });

  it('leaves no server, port, process or data directory behind', async () => {
    const gitUrl = /Local Git server (\S+)/.exec(first.stdout)![1]!;
    const kubeUrl = /Local cluster (\S+)/.exec(first.stdout)![1]!;
    expect(await listening(gitUrl)).toBe(false);
    expect(await listening(kubeUrl)).toBe(false);
    expect(await demoProcesses()).toEqual([]);
    expect((await demoDataDirs()).filter((dir) => !dataDirsBefore.includes(dir))).toEqual([]);
    expect(first.stdout).toContain('Local servers stopped.');
  });

  it('prints no secret: not the planted Argo CD secrets, not the Git password', () => {
    expect(leakedSecrets(first.stdout + first.stderr)).toEqual([]);
  });

  it('replaces its own earlier store on the next run, and --json prints one document', async () => {
    const second = await argocdDr(['demo', '--json'], {}, { cwd });
    expect(second.code).toBe(0);
    const result = JSON.parse(second.stdout) as DemoResult;
    expect(result).toMatchObject({ ok: true, caught: true, store: path.join(cwd, 'argocd-dr-demo'), backup: { result: 'Succeeded' } });
    expect(result.verification.filter((report) => !report.ok).map((report) => report.bundle)).toEqual([result.damage.bundle]);
    // Only this run's bundles and report: the earlier run's (other ports) are gone.
    const store = path.join(cwd, 'argocd-dr-demo');
    expect(await readdir(path.join(store, 'git'))).toEqual([new URL(result.servers.gitBaseUrl).host]);
    expect((await readdir(path.join(store, 'runs'))).filter((name) => name.startsWith('backup-'))).toEqual([result.backup.runId, `${result.backup.runId}.json`]);
    expect(leakedSecrets(second.stdout + second.stderr)).toEqual([]);
  }, 300_000);
});

describe('argocd-dr demo stopped with Ctrl-C', () => {
  afterAll(removeTempDirs);

  it('stops its servers, removes their files and exits 130', async () => {
    const cwd = await tempDir('cli-demo-interrupted');
    const before = await demoDataDirs();
    const child = spawn(process.execPath, [CLI, 'demo'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    // Interrupt once both servers are up and the backup has begun.
    await new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('1. Backup into')) resolve();
    }));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('the demo was stopped before it finished; its servers are stopped');
    expect(await listening(/Local Git server (\S+)/.exec(stdout)![1]!)).toBe(false);
    expect(await demoProcesses()).toEqual([]);
    expect((await demoDataDirs()).filter((dir) => !before.includes(dir))).toEqual([]);
  }, 120_000);
});

describe('argocd-dr demo refuses, with exit code 2 and what to do', () => {
  afterAll(removeTempDirs);

  it('a --dir that holds files an earlier demo did not write, and leaves them alone', async () => {
    const dir = await tempDir('demo-foreign');
    await writeFile(path.join(dir, 'backup.tar'), 'precious');
    const result = await argocdDr(['demo', '--dir', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${dir} already holds files that an earlier demo did not write; pass --dir with a new or empty directory`);
    expect(await readdir(dir)).toEqual(['backup.tar']);
  });

  it('a machine without git, or without git http-backend, or without openssl', async () => {
    const bin = await tempDir('demo-path');
    const cwd = await tempDir('demo-cwd-missing');
    const withPath = (dir: string) => argocdDr(['demo'], { PATH: dir }, { cwd });

    const noGit = await withPath(bin);
    expect(noGit.code).toBe(2);
    expect(noGit.stderr).toMatch(/the demo needs git, which was not found on PATH; install git/);

    // A git whose exec path has no http-backend (as some minimal git packages ship).
    const fakeGit = path.join(bin, 'git');
    await writeFile(fakeGit, `#!/bin/sh\necho ${bin}\n`);
    await chmod(fakeGit, 0o755);
    const noBackend = await withPath(bin);
    expect(noBackend.code).toBe(2);
    expect(noBackend.stderr).toMatch(/the demo needs git http-backend, which is not in .*; install a full git package/);

    const realGitBin = await tempDir('demo-path-git');
    await symlink(execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim(), path.join(realGitBin, 'git'));
    const noOpenssl = await withPath(realGitBin);
    expect(noOpenssl.code).toBe(2);
    expect(noOpenssl.stderr).toMatch(/the demo needs openssl .* install openssl/);
    // Nothing was started or written.
    expect(existsSync(path.join(cwd, 'argocd-dr-demo'))).toBe(false);
  });
});
