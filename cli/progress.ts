import type cliProgress from 'cli-progress';

type Payload = Record<string, string>;

/**
 * Live progress lines on a terminal, one per item (repo, bundle), through cli-progress. On
 * anything that is not a terminal there are no bars: callers print plain lines instead, so logs
 * of CI jobs stay readable.
 */
export class ProgressBars {
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  private constructor(private readonly multibar: cliProgress.MultiBar) {}

  /**
   * Bars in `format` (cli-progress tokens: {bar}, {percentage} and payload keys), or undefined off a terminal.
   * Payload keys must not be cli-progress's own tokens (eta, value, total, duration...): those win, so a
   * payload {eta} shows cli-progress's NULL or INF.
   */
  static async open(terminal: NodeJS.WriteStream, format: string): Promise<ProgressBars | undefined> {
    if (!terminal.isTTY) return undefined;
    // Loaded only for a terminal: runs in CI and Lambda-like shells skip its memory.
    const { default: cliProgress } = await import('cli-progress');
    return new ProgressBars(new cliProgress.MultiBar({
      stream: terminal,
      format,
      hideCursor: true,
      clearOnComplete: true,
      autopadding: true,
      // Leaves room on an 80-column terminal for sizes, rate and ETA.
      barsize: 20,
      // Lines logged above the bars move them down a row: redraw them even when their text is unchanged.
      forceRedraw: true,
      fps: 5,
    }));
  }

  /** Shows `value` of `total` for the item, creating its bar on first use. */
  update(key: string, payload: Payload, value = 0, total = 1): void {
    let bar = this.bars.get(key);
    if (!bar) {
      bar = this.multibar.create(total, value, payload);
      this.bars.set(key, bar);
    }
    bar.setTotal(total);
    bar.update(value, payload);
  }

  done(key: string): void {
    const bar = this.bars.get(key);
    if (!bar) return;
    bar.stop();
    this.multibar.remove(bar);
    this.bars.delete(key);
  }

  /**
   * A finished item's line, above the bars. cli-progress moves the cursor itself, so a line written straight
   * to the terminal would be drawn over by the next redraw (or cleared by stop()).
   */
  log(text: string): void {
    this.multibar.log(`${text}\n`);
    this.multibar.update();
  }

  stop(): void {
    this.multibar.stop();
  }
}
