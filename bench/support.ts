import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Where the benchmarks expect GNU time; its `-f`/`-o` options are what `measure` relies on. */
export const GNU_TIME = '/usr/bin/time';

export interface RunOptions {
  cwd?: string;
  /** Added to (not replacing) the current environment. */
  env?: NodeJS.ProcessEnv;
  /** 'ignore' for commands whose stdout is large and not needed (a pack on stdout, say). */
  stdout?: 'capture' | 'ignore';
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit code; 128 + signal number when the process was killed by a signal. */
  code: number;
}

export interface Measurement extends RunResult {
  /** Wall-clock seconds as GNU time reports them (%e, 10 ms resolution). */
  seconds: number;
  /** Peak resident set size in MiB (GNU time's %M, KiB / 1024): the largest single process of the tree, not their sum. */
  maxRssMB: number;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

/** Runs a command to completion and collects its output; never rejects on a non-zero exit, only when it cannot be started. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: ['ignore', opts.stdout === 'ignore' ? 'ignore' : 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code: code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0),
      });
    });
  });
}

/** Like `run`, but a non-zero exit becomes an error carrying the command's stderr. */
export async function runChecked(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${result.code}: ${result.stderr.trim().slice(-4000)}`);
  }
  return result.stdout;
}

let gnuTimeChecked: Promise<void> | undefined;

/** Rejects with an actionable message unless GNU time is installed at /usr/bin/time (BusyBox's time has no -o). */
export function requireGnuTime(): Promise<void> {
  gnuTimeChecked ??= (async () => {
    const missing = `GNU time is required at ${GNU_TIME} to measure wall time and peak memory; install it with \`apt-get install time\` (Debian/Ubuntu) or \`dnf install time\` (Fedora/Amazon Linux).`;
    try {
      await access(GNU_TIME, constants.X_OK);
    } catch {
      throw new Error(missing);
    }
    const version = await run(GNU_TIME, ['--version']).catch(() => undefined);
    if (!version || !/GNU/.test(version.stdout + version.stderr)) {
      throw new Error(`${GNU_TIME} is not GNU time. ${missing}`);
    }
  })();
  return gnuTimeChecked;
}

/** Runs `cmd args` under `/usr/bin/time -f '%e %M' -o <tmp>`, so time's report never mixes with the command's stderr. */
export async function measure(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Measurement> {
  await requireGnuTime();
  const dir = await mkdtemp(join(tmpdir(), 'argocd-dr-measure-'));
  const report = join(dir, 'time');
  try {
    const result = await run(GNU_TIME, ['-f', '%e %M', '-o', report, '--', cmd, ...args], opts);
    const text = await readFile(report, 'utf8').catch(() => '');
    // On failure time writes "Command exited with non-zero status N" first; the figures are always the last line.
    const last = text.trim().split('\n').pop() ?? '';
    const match = /^(\d+(?:\.\d+)?) (\d+)$/.exec(last.trim());
    if (!match) {
      throw new Error(`no timing from ${GNU_TIME} for ${cmd} (exit ${result.code}): ${text.trim() || result.stderr.trim().slice(-2000)}`);
    }
    return { ...result, seconds: Number(match[1]), maxRssMB: Number(match[2]) / 1024 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Middle value (mean of the two middle ones for an even count); the benchmarks report medians of repeated runs. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export type Cell = string | number | boolean | null | undefined;

/** A padded Markdown table (pasteable and terminal-readable); columns are the rows' keys in first-seen order, numbers right-aligned. */
export function formatTable(rows: ReadonlyArray<Readonly<Record<string, Cell>>>): string {
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  if (columns.length === 0) return '';
  const show = (v: Cell): string =>
    v === null || v === undefined ? '' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v);
  const numeric = columns.map((c) => rows.some((r) => typeof r[c] === 'number') && rows.every((r) => r[c] == null || typeof r[c] === 'number'));
  const body = rows.map((r) => columns.map((c) => show(r[c]).replaceAll('|', '\\|')));
  const widths = columns.map((c, i) => Math.max(3, c.length, ...body.map((cells) => (cells[i] as string).length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(columns), rule, ...body.map(line)].join('\n');
}

export interface PackInfo {
  /** Size of the repository's single .pack file (the sum when there are several). */
  packBytes: number;
  packs: string[];
  /** Objects in packs and loose, from `git count-objects -v`. */
  objects: number;
  looseObjects: number;
}

/** Pack size and object count of a (bare) repository. */
export async function packInfo(gitDir: string): Promise<PackInfo> {
  const packDir = join(gitDir, 'objects', 'pack');
  const packs = (await readdir(packDir).catch(() => [] as string[])).filter((f) => f.endsWith('.pack')).sort();
  let packBytes = 0;
  for (const p of packs) packBytes += (await stat(join(packDir, p))).size;
  const counts = await runChecked('git', ['count-objects', '-v'], { env: { GIT_DIR: gitDir } });
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(counts)?.[1] ?? NaN);
  return { packBytes, packs: packs.map((p) => join(packDir, p)), objects: field('in-pack') + field('count'), looseObjects: field('count') };
}

export interface PackAnalysis {
  byType: Record<string, { objects: number; deltas: number; packedBytes: number; bytes: number }>;
  /** Delta chain length → number of objects at that depth (0 = stored whole). */
  chainHistogram: Map<number, number>;
  maxChain: number;
  /** Mean chain length over delta objects only. */
  meanChain: number;
}

/** Per-type sizes and delta chain histogram of a pack, streamed from `git verify-pack -v` (a line per object is too much to buffer). */
export async function analysePack(packFile: string): Promise<PackAnalysis> {
  const idx = packFile.replace(/\.pack$/, '.idx');
  const child = spawn('git', ['verify-pack', '-v', idx], { stdio: ['ignore', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const closed = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  const byType: PackAnalysis['byType'] = {};
  const chainHistogram = new Map<number, number>();
  let deltaDepthSum = 0;
  let deltas = 0;
  for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
    // "<oid> <type> <size> <size-in-pack> <offset> [<depth> <base-oid>]"
    const f = line.split(/\s+/);
    if (f.length < 5 || !/^[0-9a-f]{40,64}$/.test(f[0] as string)) continue;
    const type = f[1] as string;
    const depth = f.length >= 7 ? Number(f[5]) : 0;
    const t = (byType[type] ??= { objects: 0, deltas: 0, packedBytes: 0, bytes: 0 });
    t.objects++;
    t.bytes += Number(f[2]);
    t.packedBytes += Number(f[3]);
    if (depth > 0) {
      t.deltas++;
      deltas++;
      deltaDepthSum += depth;
    }
    chainHistogram.set(depth, (chainHistogram.get(depth) ?? 0) + 1);
  }
  const code = await closed;
  if (code !== 0) throw new Error(`git verify-pack -v ${idx} exited with ${code}: ${Buffer.concat(err).toString().trim()}`);
  return {
    byType,
    chainHistogram: new Map([...chainHistogram].sort((a, b) => a[0] - b[0])),
    maxChain: Math.max(0, ...chainHistogram.keys()),
    meanChain: deltas ? deltaDepthSum / deltas : 0,
  };
}

/** "12.3 MiB" style sizes for log lines. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
