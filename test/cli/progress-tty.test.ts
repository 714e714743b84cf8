import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leakedSecrets, PLANTED_SECRETS } from '../../demo/argocd-installation.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../demo/environment.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import { argocdDr, CLI } from '../support/cli.js';
import { replayTerminal, runOnTerminal, shellQuote } from '../support/terminal-screen.js';

/**
 * `argocd-dr backup` and `mirror` on a real pseudo-terminal (util-linux `script`) of 80 columns, against the
 * demo environment: what the user sees while it runs (a bar per step and repository with bytes, rate and ETA)
 * and when it ends (one line per finished item, the summary, no bar left, the cursor back).
 */
const COLUMNS = 80;
// The billing repository's pack comes down this slowly, so its bar is drawn with a rate (after 0.5 s) and an ETA.
const SLOW = { kind: 'slow', bytesPerSecond: 64 * 1024 } as const;

let env: DemoEnvironment;

beforeAll(async () => {
  env = await startDemoEnvironment({ dir: await tempDir('progress-tty-env') });
  // Git sends a pack in sideband packets of at most 8 KiB and the byte count moves per packet: ~200 KiB make many.
  await env.commit('billing', 'blob.txt', randomBytes(150 * 1024).toString('base64'));
});

afterAll(async () => {
  await env?.stop();
  await removeTempDirs();
});

function cli(args: string[]): string {
  return [process.execPath, CLI, ...args].map(shellQuote).join(' ');
}

describe('argocd-dr backup on a terminal', () => {
  it('draws a bar per step and repository with bytes, rate and ETA, then leaves only the finished lines and the summary', async () => {
    const store = await tempDir('progress-tty-store');
    // Off a terminal: plain lines, no cursor codes (backup-cli.test.ts asserts the lines themselves).
    const plain = await argocdDr(['backup', '--kubeconfig', env.kubeconfig, '--store', store]);
    expect(plain.code).toBe(0);
    expect(plain.stdout + plain.stderr).not.toContain('\x1b');

    // The ETA needs the last bundle's size: back up again after a push, with the export and the billing pack slowed.
    await env.commit('billing', 'notes.txt', 'a change to back up\n');
    env.git.setFault(env.repos.billing.path, SLOW);
    env.kube.setFault('applications', { kind: 'delay', ms: 600, verbs: ['list'] });
    try {
      const { code, output } = await runOnTerminal(cli(['backup', '--kubeconfig', env.kubeconfig, '--store', store]), COLUMNS);
      const screen = replayTerminal(output, COLUMNS);
      const bars = [...screen.seen];

      expect(bars).toContainEqual(expect.stringMatching(new RegExp(`^export  -{20}\\s+${env.context}$`)));
      // The URL comes last: an 80-column terminal cuts it, not the numbers.
      expect(bars).toContainEqual(expect.stringMatching(/^mirror {2}[=-]{20} \d+\.\d KiB \/ ~\d+\.\d KiB {2}\d+\.\d KiB\/s {2}ETA \d+\.\d s {2}h/));
      // A bar fills as bytes come.
      expect(bars).toContainEqual(expect.stringMatching(/^mirror {2}=+-+ /));
      expect(bars.filter((text) => /NULL|INF|NaN|undefined/.test(text))).toEqual([]);
      expect(Math.max(...bars.map((text) => text.length))).toBeLessThanOrEqual(COLUMNS);

      // When it ends: every finished item's line in order, then the summary; no bar left; the cursor shown again.
      const lines = screen.lines.filter(Boolean);
      expect(lines.slice(0, 5)).toEqual([
        `export  ${env.context}: unchanged`,
        'plan    1 changed, 3 unchanged, 0 failed',
        expect.stringMatching(new RegExp(`^mirror  ${env.repoUrls.billing}: mirrored \\d+\\.\\d KiB in \\d+\\.\\d s$`)),
        expect.stringMatching(/^verify {2}git\/.*\/payments\/billing\.bundle: ok \(\d+ objects, \d+\.\d s\)$/),
        expect.stringMatching(/^CLUSTER\s+EXPORT\s+ARGO CD\s+APPS\s+READY\s+NOT READY\s+NOT COVERED\s+ERROR$/),
      ]);
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^mirrored\\s+${env.repoUrls.billing}\\s+\\d+\\.\\d KiB\\s+ok\\s+billing-repo$`)));
      expect(lines.at(-1)).toMatch(/^Backup Succeeded: run backup-\d{8}T\d{6}Z-[0-9a-f]{6}, report .*\.json$/);
      expect(lines.filter((text) => /[=-]{20}/.test(text))).toEqual([]);
      expect(screen.cursorVisible).toBe(true);
      expect(code).toBe(0);

      expect(leakedSecrets(output)).toEqual([]);
      expect(output).not.toContain(env.token);
    } finally {
      env.git.setFault(env.repos.billing.path, undefined);
      env.kube.setFault('applications', undefined);
    }
  });
});

describe('argocd-dr mirror on a terminal', () => {
  it('draws a bar per repository with its bytes and rate, then the table', async () => {
    env.git.setFault(env.repos.billing.path, SLOW);
    try {
      const urls = [env.repoUrls.billing, env.repoUrls.guestbook];
      const { code, output } = await runOnTerminal(
        cli(['mirror', '--store', await tempDir('progress-tty-mirror'), '--username', 'argocd', ...urls]),
        COLUMNS,
        { ARGOCD_DR_GIT_PASSWORD: PLANTED_SECRETS.repoPassword },
      );
      const screen = replayTerminal(output, COLUMNS);

      expect([...screen.seen]).toContainEqual(expect.stringMatching(new RegExp(`^fetching  ${env.repoUrls.billing}  \\d+(\\.\\d)? (B|KiB)  \\d+(\\.\\d)? (B|KiB)/s$`)));
      expect([...screen.seen].filter((text) => /NULL|INF|NaN|undefined/.test(text))).toEqual([]);
      const lines = screen.lines.filter(Boolean);
      expect(lines).toEqual([
        expect.stringMatching(/^STATUS\s+REPOSITORY\s+REFS\s+SIZE\s+TIME\s+BUNDLE \/ ERROR$/),
        ...urls.map((url) => expect.stringMatching(new RegExp(`^mirrored\\s+${url}\\s+\\d+\\s+\\d+\\.\\d KiB\\s+\\d+\\.\\d s\\s+git/`))),
        '2 mirrored, 0 unchanged, 0 empty, 0 failed',
      ]);
      expect(screen.cursorVisible).toBe(true);
      expect(code).toBe(0);
      expect(leakedSecrets(output)).toEqual([]);
    } finally {
      env.git.setFault(env.repos.billing.path, undefined);
    }
  });
});
