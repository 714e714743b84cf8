import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleReport } from '../../lambdas/git/verify/findings.js';
import { verifyBundleFile } from '../../lambdas/git/verify/verify.js';
import { gitOracle, hasRawBinary, splitBundle } from '../support/corrupt-bundles.js';
import { gitBuffer, removeTempDirs, tempDir } from '../../demo/git.js';
import { createRichRepo } from '../../demo/origin-repos.js';

/**
 * Thousands of damaged copies of a real bundle (bits flipped, cut short, ranges overwritten or
 * doubled), each verified with a time limit: every outcome must be a report, never an exception or
 * a hang. A variant whose pack bytes differ from the original must fail unless real git accepts it
 * too; the verifier never accepts what git rejects; and for a fixed sample the verdicts must match
 * git's exactly (gitOracle: bundle verify, index-pack --strict, rev-list --objects).
 */

const VARIANTS = Number(process.env.FUZZ_VARIANTS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_b0d1);
/** Every SAMPLE_EVERY-th variant is also judged by git, whatever the verifier says (~100 in all). */
const SAMPLE_EVERY = Math.max(1, Math.floor(VARIANTS / 100));
const HANG_MS = 5_000;

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Variant {
  bytes: Buffer;
  how: string;
}

function mutate(original: Buffer, n: number, random: () => number): Variant {
  const int = (max: number): number => Math.floor(random() * max);
  switch (n % 4) {
    case 0: {
      const bytes = Buffer.from(original);
      const flips: string[] = [];
      for (let k = 1 + int(3); k > 0; k--) {
        const at = int(bytes.length);
        const bit = int(8);
        bytes[at] = bytes[at]! ^ (1 << bit);
        flips.push(`${at}.${bit}`);
      }
      return { bytes, how: `flip bits ${flips.join(', ')}` };
    }
    case 1: {
      const length = int(original.length);
      return { bytes: Buffer.from(original.subarray(0, length)), how: `truncate to ${length} bytes` };
    }
    case 2: {
      const at = int(original.length);
      const length = Math.min(1 + int(16), original.length - at);
      const bytes = Buffer.from(original);
      for (let i = 0; i < length; i++) bytes[at + i] = int(256);
      return { bytes, how: `overwrite ${length} bytes at ${at}` };
    }
    default: {
      const at = int(original.length);
      const length = Math.min(1 + int(32), original.length - at);
      const bytes = Buffer.concat([original.subarray(0, at + length), original.subarray(at, at + length), original.subarray(at + length)]);
      return { bytes, how: `duplicate ${length} bytes at ${at}` };
    }
  }
}

/** Resolves with the report, or with why there is none: it threw, or it did not answer in time. */
async function verifyInTime(file: string): Promise<{ report?: BundleReport; problem?: string; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no verdict after ${HANG_MS} ms (hang)`)), HANG_MS);
  });
  try {
    const report = await Promise.race([verifyBundleFile(file), hang]);
    const ms = performance.now() - started;
    // A synchronous loop would keep the timer from firing: time it afterwards too.
    if (ms > HANG_MS) return { problem: `verdict took ${Math.round(ms)} ms (hang)`, ms };
    return { report, ms };
  } catch (error) {
    return { problem: `threw ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

function shapeProblem(report: BundleReport, file: string): string | undefined {
  if (report.bundle !== file) return `bundle is ${JSON.stringify(report.bundle)}`;
  if (typeof report.objects !== 'number' || !Number.isInteger(report.objects) || report.objects < 0) return `objects is ${String(report.objects)}`;
  if (typeof report.ok !== 'boolean' || report.ok !== (report.errors.length === 0)) return `ok is ${String(report.ok)} with ${report.errors.length} errors`;
  for (const finding of [...report.errors, ...report.warnings]) {
    if (typeof finding.id !== 'string' || finding.id === '' || typeof finding.message !== 'string') return `malformed finding ${JSON.stringify(finding)}`;
    if (hasRawBinary(finding.message)) return `raw binary in message ${JSON.stringify(finding.message)}`;
  }
  return undefined;
}

function sameBytes(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a !== undefined && b !== undefined && a.equals(b);
}

describe('the verifier on damaged bundles', () => {
  let dir: string;
  let original: Buffer;

  beforeAll(async () => {
    dir = await tempDir('fuzz');
    const origin = await createRichRepo(dir, 'rich.git');
    original = await gitBuffer(['-c', 'pack.threads=1', 'bundle', 'create', '-q', '-', '--all'], { cwd: origin });
    await mkdir(path.join(dir, 'oracle'));
  });

  afterAll(removeTempDirs);

  it('starts from a small real bundle that both git and the verifier accept', async () => {
    expect(original.length).toBeLessThan(20 * 1024);
    const file = path.join(dir, 'original.bundle');
    await writeFile(file, original);
    expect((await gitOracle(file, path.join(dir, 'oracle'))).verdict).toBe('ok');
    const { report, problem } = await verifyInTime(file);
    expect(problem).toBeUndefined();
    expect(report?.errors).toEqual([]);
    expect(report?.ok).toBe(true);
  });

  it(`gives a verdict on ${VARIANTS} damaged copies, never an exception or a hang, and agrees with git`, async () => {
    const random = prng(SEED);
    const originalPack = splitBundle(original)?.pack;
    const file = path.join(dir, 'variant.bundle');
    const oracleDir = path.join(dir, 'oracle');
    const problems: string[] = [];
    const stats = { rejected: 0, accepted: 0, acceptedByBoth: 0, sampled: 0, packChanged: 0, slowestMs: 0 };
    const started = performance.now();

    for (let n = 0; n < VARIANTS; n++) {
      const variant = mutate(original, n, random);
      const label = `#${n} (${variant.how}, seed ${SEED})`;
      await writeFile(file, variant.bytes);
      const { report, problem, ms } = await verifyInTime(file);
      stats.slowestMs = Math.max(stats.slowestMs, ms);
      if (!report) {
        problems.push(`${label}: ${problem}`);
        continue;
      }
      const shape = shapeProblem(report, file);
      if (shape) problems.push(`${label}: ${shape}`);
      if (report.ok) stats.accepted++;
      else stats.rejected++;

      const packChanged = !sameBytes(splitBundle(variant.bytes)?.pack, originalPack);
      if (packChanged) stats.packChanged++;
      const sampled = n % SAMPLE_EVERY === 0;
      // git judges every variant the verifier accepts (it must never accept what git rejects, and a
      // changed pack may pass only if git passes it too) and a fixed sample of the rest.
      if (!report.ok && !sampled) continue;
      if (sampled) stats.sampled++;
      const git = await gitOracle(file, oracleDir);
      if (report.ok && git.verdict === 'ok') stats.acceptedByBoth++;
      if (report.ok && git.verdict === 'fail') {
        problems.push(`${label}: the verifier accepts${packChanged ? ' a changed pack' : ''} what git rejects: ${git.says}`);
      } else if (!report.ok && git.verdict === 'ok') {
        problems.push(`${label}: the verifier rejects what git accepts: ${report.errors.map((f) => `${f.id}: ${f.message}`).join('; ')}`);
      }
    }

    const seconds = (performance.now() - started) / 1000;
    console.log(`fuzz: ${VARIANTS} variants in ${seconds.toFixed(1)} s (slowest ${Math.round(stats.slowestMs)} ms): ${stats.rejected} rejected, ${stats.accepted} accepted (${stats.acceptedByBoth} confirmed by git), ${stats.packChanged} with a changed pack, ${stats.sampled} sampled against git`);
    expect(problems, problems.slice(0, 20).join('\n')).toEqual([]);
    // Nearly every damaged copy must be rejected: a fuzz that mostly misses the bytes proves little.
    expect(stats.rejected).toBeGreaterThan(VARIANTS * 0.9);
    expect(stats.sampled).toBeGreaterThanOrEqual(90);
  }, 180_000);
});
