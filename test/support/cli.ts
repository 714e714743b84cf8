import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

export const CLI = path.resolve('bin/argocd-dr.js');

/** Runs the built CLI as a user would, with extra environment (and a working directory); never throws on a non-zero exit. */
export async function argocdDr(args: string[], env: Record<string, string> = {}, options: { cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, ...(options.cwd ? { cwd: options.cwd } : {}) });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
