import type cliProgress from 'cli-progress';
import type { MirrorProgress } from '../lambdas/git/mirror.js';
import { formatBytes } from './format.js';

/**
 * Live per-repo progress (bytes and rate) on a terminal; on anything else, one plain line per
 * finished repo, so logs of CI jobs stay readable.
 */
export class MirrorProgressView {
  private readonly bars = new Map<string, { bar: cliProgress.SingleBar; started: number }>();

  private constructor(private readonly multibar: cliProgress.MultiBar | undefined, private readonly plain: NodeJS.WritableStream) {}

  static async create(terminal: NodeJS.WriteStream, plain: NodeJS.WritableStream): Promise<MirrorProgressView> {
    if (!terminal.isTTY) return new MirrorProgressView(undefined, plain);
    // Loaded only for a terminal: runs in CI and Lambda-like shells skip its memory.
    const { default: cliProgress } = await import('cli-progress');
    const multibar = new cliProgress.MultiBar({
      stream: terminal,
      format: '{phase} {repo}  {size}  {rate}',
      hideCursor: true,
      clearOnComplete: true,
      autopadding: true,
      fps: 5,
    });
    return new MirrorProgressView(multibar, plain);
  }

  update(progress: MirrorProgress): void {
    if (!this.multibar) {
      if (progress.phase === 'done' && progress.result) {
        const { status, url, error } = progress.result;
        this.plain.write(`${status} ${url}${error ? `: ${error}` : ''}\n`);
      }
      return;
    }
    let entry = this.bars.get(progress.url);
    if (!entry) {
      entry = { bar: this.multibar.create(1, 0, payload(progress, 0)), started: performance.now() };
      this.bars.set(progress.url, entry);
    }
    const elapsed = (performance.now() - entry.started) / 1000;
    entry.bar.update(0, payload(progress, elapsed));
    if (progress.phase === 'done') {
      entry.bar.stop();
      this.multibar.remove(entry.bar);
    }
  }

  stop(): void {
    this.multibar?.stop();
  }
}

function payload(progress: MirrorProgress, elapsedSeconds: number) {
  const phase = progress.phase === 'done' ? (progress.result?.status ?? 'done') : progress.phase;
  return {
    phase: phase.padEnd(9),
    repo: progress.url,
    size: formatBytes(progress.bytes),
    rate: elapsedSeconds > 0.5 && progress.bytes > 0 ? `${formatBytes(progress.bytes / elapsedSeconds)}/s` : '',
  };
}
