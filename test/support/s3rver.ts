import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export interface S3rver {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  /** s3rver's data directory: `<dataDir>/<bucket>/...` holds objects, multipart parts under `uploads`. */
  dataDir: string;
  /** Path-style client with s3rver's dummy credentials. */
  client: S3Client;
  /** Another client for this s3rver, e.g. with different credentials or its own middleware. */
  newClient(overrides?: S3ClientConfig): S3Client;
  close(): Promise<void>;
}

export interface StartS3rverOptions {
  bucket?: string;
}

// Resolved like an import, so this works from test/ and from its compiled copy in dist/.
const s3rverBin = path.join(path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');

/** Starts s3rver 3.7 in its own process on a free loopback port, with one bucket. */
export async function startS3rver(options: StartS3rverOptions = {}): Promise<S3rver> {
  const bucket = options.bucket ?? 'argocd-dr-test';
  const dataDir = await mkdtemp(path.join(tmpdir(), 's3rver-'));
  // The legacy provider brings back DES, which s3rver uses for ListObjectsV2 continuation tokens.
  const child = spawn(
    process.execPath,
    [
      '--openssl-legacy-provider',
      s3rverBin,
      '--directory', dataDir,
      '--address', '127.0.0.1',
      '--port', '0',
      '--silent',
      '--configure-bucket', bucket,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );

  let port: number;
  try {
    port = await waitForListening(child);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }

  const endpoint = `http://127.0.0.1:${port}`;
  const clients: S3Client[] = [];
  const newClient = (overrides: S3ClientConfig = {}): S3Client => {
    const made = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      ...overrides,
    });
    clients.push(made);
    return made;
  };
  const client = newClient();

  let closed = false;
  return {
    endpoint,
    bucket,
    dataDir,
    client,
    newClient,
    async close() {
      if (closed) return;
      closed = true;
      for (const made of clients) made.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Resolves with the port once s3rver prints its banner; rejects if it exits first. */
function waitForListening(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => fail(new Error(`s3rver did not start within 30 s.\n${stderr}`)), 30_000);
    const onStdout = (chunk: Buffer): void => {
      stdout += chunk.toString('utf8');
      const match = /listening on [^\s:]+:(\d+)/.exec(stdout);
      if (match?.[1] !== undefined) {
        cleanup();
        // Keep draining the pipes so a chatty child never blocks on a full buffer.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(Number(match[1]));
      }
    };
    const onStderr = (chunk: Buffer): void => {
      stderr += chunk.toString('utf8');
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      fail(new Error(`s3rver exited before listening (code ${code}, signal ${signal}).\n${stderr}`));
    };
    const onError = (error: Error): void => fail(error);
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout?.off('data', onStdout);
      child.stderr?.off('data', onStderr);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    function fail(error: Error): void {
      cleanup();
      reject(error);
    }
    child.stdout?.on('data', onStdout);
    child.stderr?.on('data', onStderr);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}
