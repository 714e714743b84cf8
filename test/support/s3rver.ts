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
const s3rverDir = path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json'));

/**
 * Runs s3rver with one fix. Its filesystem store answers a PUT (and an UploadPart) when the bytes
 * have passed its hashing stream, not when the file is written, so a HEAD right after a PUT can see
 * a short file: under load our upload check then reports a damaged object that S3 would never give
 * us. Here the store waits for the file to be flushed before it answers.
 */
const launcher = `
const path = require('node:path');
const crypto = require('node:crypto');
const { mkdir, writeFile } = require('node:fs/promises');
const { createWriteStream } = require('node:fs');
const { Readable, Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const [dir, directory, bucket] = process.argv.slice(1);
const S3rver = require(dir);
const FilesystemStore = require(path.join(dir, 'lib', 'stores', 'filesystem.js'));

async function writeHashed(file, content) {
  await mkdir(path.dirname(file), { recursive: true });
  const md5 = crypto.createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(content) ? Readable.from([content]) : content;
  const hash = new Transform({
    transform(chunk, encoding, done) { md5.update(chunk); size += chunk.length; done(null, chunk); },
  });
  await pipeline(source, hash, createWriteStream(file));
  return { size, md5: md5.digest('hex') };
}

FilesystemStore.prototype.putObject = async function (object) {
  const written = await writeHashed(this.getResourcePath(object.bucket, object.key, 'object'), object.content);
  await this.putMetadata(object.bucket, object.key, object.metadata, written.md5);
  return written;
};
FilesystemStore.prototype.putPart = async function (bucket, uploadId, partNumber, content) {
  const file = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, String(partNumber));
  const written = await writeHashed(file, content);
  await writeFile(file + '.md5', written.md5);
  return written;
};

new S3rver({ directory, address: '127.0.0.1', port: 0, silent: true, configureBuckets: [{ name: bucket }] })
  .run()
  .then(({ address, port }) => console.log('S3rver listening on %s:%d', address, port))
  .catch((error) => { console.error(error); process.exit(1); });
`;

/** Starts s3rver 3.7 in its own process on a free loopback port, with one bucket. */
export async function startS3rver(options: StartS3rverOptions = {}): Promise<S3rver> {
  const bucket = options.bucket ?? 'argocd-dr-test';
  const dataDir = await mkdtemp(path.join(tmpdir(), 's3rver-'));
  // The legacy provider brings back DES, which s3rver uses for ListObjectsV2 continuation tokens.
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', launcher, s3rverDir, dataDir, bucket], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });

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
