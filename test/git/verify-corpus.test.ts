import { afterAll, describe, expect, it } from 'vitest';
import type { BundleReport, Finding } from '../../lambdas/git/verify/findings.js';
import { verifyBundleFile } from '../../lambdas/git/verify/verify.js';
import { buildCorpus, hasRawBinary } from '../support/corrupt-bundles.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';

/**
 * The verifier against a corpus of good and bad bundles built with real git, each verdict taken
 * from real git (`git bundle verify`, `git index-pack --strict`, `git rev-list --objects`; see
 * test/support/corrupt-bundles.ts). The corpus is built once, while the file is collected: one
 * test per case needs the case names before the tests run.
 */

const started = performance.now();
const cases = await buildCorpus(await tempDir('corpus'));
const buildSeconds = (performance.now() - started) / 1000;

afterAll(removeTempDirs);

function expectWellFormed(report: BundleReport, file: string): void {
  expect(report.bundle).toBe(file);
  expect(typeof report.objects).toBe('number');
  expect(Number.isInteger(report.objects) && report.objects >= 0, `objects: ${report.objects}`).toBe(true);
  expect(typeof report.seconds).toBe('number');
  expect(Array.isArray(report.errors) && Array.isArray(report.warnings)).toBe(true);
  expect(report.ok).toBe(report.errors.length === 0);
  for (const finding of [...report.errors, ...report.warnings]) {
    expect(typeof finding.id === 'string' && finding.id.length > 0, JSON.stringify(finding)).toBe(true);
    expect(typeof finding.message === 'string' && finding.message.length > 0, JSON.stringify(finding)).toBe(true);
    expect(hasRawBinary(finding.message), `raw binary in message: ${JSON.stringify(finding.message)}`).toBe(false);
    if (finding.object !== undefined) expect(finding.object).toMatch(/^[0-9a-f]{40}([0-9a-f]{24})?$/);
  }
}

function describeFindings(findings: Finding[]): string {
  return findings.length === 0 ? '(none)' : findings.map((f) => `${f.id}: ${f.message}`).join('\n  ');
}

describe('the verifier against bundles real git has judged', () => {
  it('has the corpus the issue asks for, built quickly', () => {
    const bad = cases.filter((c) => c.gitVerdict === 'fail');
    const good = cases.filter((c) => c.gitVerdict === 'ok');
    expect(bad.length).toBeGreaterThanOrEqual(30);
    expect(good.length).toBeGreaterThanOrEqual(5);
    // Clean bundles whose only findings are INFO-level (git reports them, never fails on them).
    const infoOnly = good.filter((c) => (c.expectIds ?? []).length > 0).map((c) => c.expectIds).flat();
    expect(infoOnly).toEqual(expect.arrayContaining(['badFilemode', 'missingTaggerEntry']));
    expect(buildSeconds).toBeLessThan(20);
  });

  for (const c of cases) {
    it(`${c.name}: git says ${c.gitVerdict}`, async () => {
      let report: BundleReport | undefined;
      let thrown: unknown;
      try {
        report = await verifyBundleFile(c.file);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, 'verifyBundleFile must answer with a report, never throw').toBeUndefined();
      if (!report) return;
      expectWellFormed(report, c.file);

      const context = `git: ${c.gitSays}\nverifier errors:\n  ${describeFindings(report.errors)}\nverifier warnings:\n  ${describeFindings(report.warnings)}`;
      expect(report.ok, context).toBe(c.gitVerdict === 'ok');
      if (c.gitVerdict === 'ok') expect(report.errors, context).toEqual([]);

      const errorIds = report.errors.map((f) => f.id);
      const warningIds = report.warnings.map((f) => f.id);
      for (const id of c.expectIds ?? []) {
        // git's INFO findings on a bundle it accepts are warnings; on a failed one, either list will do.
        if (c.gitVerdict === 'ok') expect(warningIds, `${id} among the warnings\n${context}`).toContain(id);
        else expect([...errorIds, ...warningIds], `${id} among the findings\n${context}`).toContain(id);
      }
    });
  }
});
