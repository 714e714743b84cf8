import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * What a terminal shows for a captured byte stream: replays text and the VT100 codes progress bars
 * use (cursor up/down/column, erase line, erase below, line wrapping on/off, cursor show/hide) on a
 * grid as wide as the terminal. Screen rows are unbounded (a tall terminal with no scrolling).
 */
export interface TerminalScreen {
  /** The final screen, one entry per line as written (rows a wrapped line spilled into are joined back), right-trimmed. */
  lines: string[];
  /** Every row as it looked at some moment (after each control code or newline): bars that were drawn and later erased. */
  seen: Set<string>;
  /** Whether the cursor is visible at the end (a progress bar hides it while drawing). */
  cursorVisible: boolean;
}

export function replayTerminal(output: string, columns: number): TerminalScreen {
  const rows: string[][] = [[]];
  // Rows that continue the row above because a long line wrapped into them.
  const continued = new Set<number>();
  const seen = new Set<string>();
  let row = 0;
  let col = 0;
  let wrap = true;
  let cursorVisible = true;
  let saved = { row: 0, col: 0 };
  const line = (r: number): string[] => {
    while (rows.length <= r) rows.push([]);
    return rows[r]!;
  };
  const remember = () => seen.add(line(row).join('').trimEnd());
  const put = (char: string) => {
    if (col >= columns) {
      if (wrap) {
        row++;
        col = 0;
        continued.add(row);
      } else col = columns - 1;
    }
    const cells = line(row);
    while (cells.length < col) cells.push(' ');
    cells[col++] = char;
  };

  // ESC [ params final | ESC 7 | ESC 8 | \r | \n | text
  // eslint-disable-next-line no-control-regex -- escape codes are what this reads
  const pattern = /\x1b\[([?0-9;]*)([A-Za-z])|\x1b([78])|(\r)|(\n)|([^\x1b\r\n]+)/g;
  for (const match of output.matchAll(pattern)) {
    const [, params, final, saveRestore, cr, lf, text] = match;
    if (text !== undefined) {
      for (const char of text) put(char);
      continue;
    }
    if (cr) col = 0;
    else if (lf) {
      remember();
      row++;
    } else if (saveRestore === '7') saved = { row, col };
    else if (saveRestore === '8') ({ row, col } = saved);
    else if (final) {
      const n = Number.parseInt(params ?? '', 10);
      const count = Number.isNaN(n) ? 1 : n;
      switch (final) {
        case 'A': row = Math.max(0, row - count); break;
        case 'B': row += count; break;
        case 'C': col = Math.min(columns - 1, col + count); break;
        case 'D': col = Math.max(0, col - count); break;
        case 'G': col = Math.min(columns - 1, count - 1); break;
        case 'K': {
          const cells = line(row);
          const mode = Number.isNaN(n) ? 0 : n;
          if (mode === 0) cells.length = Math.min(cells.length, col);
          else if (mode === 1) cells.fill(' ', 0, col + 1);
          else cells.length = 0;
          break;
        }
        case 'J':
          line(row).length = Math.min(line(row).length, col);
          rows.length = row + 1;
          for (const r of [...continued]) if (r > row) continued.delete(r);
          break;
        case 'h':
        case 'l':
          if (params === '?7') wrap = final === 'h';
          if (params === '?25') cursorVisible = final === 'h';
          break;
        // Colours and anything else change no text.
      }
      remember();
    }
  }
  const lines: string[] = [];
  rows.forEach((cells, r) => {
    const text = cells.join('');
    if (continued.has(r) && lines.length > 0) lines[lines.length - 1] += text;
    else lines.push(text);
  });
  return { lines: lines.map((text) => text.trimEnd()), seen, cursorVisible };
}

/**
 * Runs a shell command on a real pseudo-terminal of `columns` columns (util-linux `script`) and returns everything
 * the terminal received (stdout and stderr interleaved, as a user sees them) and the command's exit code.
 */
export async function runOnTerminal(command: string, columns: number, env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  try {
    await promisify(execFile)('script', ['--version']);
  } catch {
    throw new Error('util-linux `script` is needed to run the CLI on a pseudo-terminal; install util-linux (apt-get install bsdutils)');
  }
  // -e: the command's exit code; -f: flush as it goes; stty: a pty made without a terminal has no size.
  const args = ['-qfec', `stty cols ${columns} rows 50; ${command}`, '/dev/null'];
  try {
    const { stdout } = await promisify(execFile)('script', args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, output: stdout };
  } catch (error) {
    const e = error as { code: number; stdout: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, output: e.stdout };
  }
}

/** A word safe in a POSIX shell command line. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}
