import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freshInstallation, fullInstallation, leakedSecrets } from '../../demo/argocd-installation.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import { argocdDr, CLI } from '../support/cli.js';
import { ARGO, exportCluster, startCluster, writes, type Cluster } from './restore-env.js';

/** The commands of the runbook's `sh` blocks, in order, as written (backslash continuations joined). */
async function runbookCommands(): Promise<string[]> {
  const text = await readFile(path.resolve('docs/runbook.md'), 'utf8');
  const commands: string[] = [];
  for (const block of text.matchAll(/^```sh\n([^]*?)^```$/gm)) {
    for (const line of block[1]!.replace(/\\\n\s*/g, ' ').split('\n')) if (line.trim() && !line.trim().startsWith('#')) commands.push(line.trim());
  }
  return commands;
}

const hasKubectl = existsSync('/usr/bin/kubectl') || existsSync('/usr/local/bin/kubectl');
const clusters: Cluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.server.close()));
  await removeTempDirs();
});

describe('docs/runbook.md', () => {
  it('names restore-git, which is not built on this branch: its step is not run yet', async () => {
    const runbook = await readFile(path.resolve('docs/runbook.md'), 'utf8');
    expect(runbook).toContain('argocd-dr restore-git --store "$STORE" --to "https://git.new.example.com/{path}"');
    // When restore-git is merged, this fails: move its step into a sh block and run it here.
    expect((await argocdDr(['--help'])).stdout).not.toContain('restore-git');
  });

  it.skipIf(!hasKubectl)('its commands, run as written, restore a backup into a new Argo CD and resume sync', async () => {
    const source = await startCluster(fullInstallation());
    const target = await startCluster(freshInstallation(), 'dr-cluster');
    clusters.push(source, target);
    const store = await tempDir('runbook-store');
    await exportCluster(source, store);

    const work = await tempDir('runbook-work');
    const bin = await tempDir('runbook-bin');
    await writeFile(path.join(bin, 'argocd-dr'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    await chmod(path.join(bin, 'argocd-dr'), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, HOME: work, STORE: store, CLUSTER: 'prod', NEW_KUBECONFIG: target.kubeconfig };
    const run = async (command: string) => {
      try {
        const { stdout, stderr } = await promisify(execFile)('sh', ['-c', command], { cwd: work, env, maxBuffer: 64 * 1024 * 1024 });
        return { stdout, stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string };
        throw new Error(`runbook command failed (${e.code}): ${command}\n${e.stdout}\n${e.stderr}`, { cause: error });
      }
    };

    const commands = await runbookCommands();
    expect(commands.map((c) => c.split(' ').slice(0, 2).join(' '))).toEqual([
      'argocd-dr history', 'argocd-dr restore', 'argocd-dr restore', 'cat restore.log', 'kubectl --kubeconfig', "grep '^", 
    ]);
    const [history, dryRun, pauseSync, showLog, getApps, resume] = commands as [string, string, string, string, string, string];
    const automated = () => target.server.list(ARGO, 'Application')
      .map((app) => (app.spec as { syncPolicy?: { automated?: { enabled?: boolean } } }).syncPolicy?.automated)
      .filter((policy) => policy !== undefined);

    expect((await run(history)).stdout).toMatch(/cluster prod .*\n.*STORED/);

    const planned = await run(dryRun);
    expect(planned.stdout).toContain('create Application argocd/guestbook');
    expect(writes(target.server)).toEqual([]);

    await run(pauseSync);
    const log = (await run(showLog)).stdout;
    expect(log).toContain('paused automated sync of');
    expect(automated().length).toBeGreaterThan(2);
    expect(automated().every((policy) => policy.enabled === false)).toBe(true);

    expect((await run(getApps)).stdout).toMatch(/^NAME\s[^]*\nguestbook\s/m);

    await run(resume);
    expect(automated().every((policy) => policy.enabled === true)).toBe(true);
    const resumed = target.server.requests.filter((r) => r.method === 'PATCH' && r.query.includes('fieldManager=kubectl'));
    expect(resumed.length).toBe(automated().length);
    expect(leakedSecrets(planned.stdout + planned.stderr + log)).toEqual([]);
  });
});
