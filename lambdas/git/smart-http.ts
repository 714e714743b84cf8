import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { GitCredentials, RepoUrl } from './repo-url.js';
import { redactUserInfo } from './repo-url.js';

/**
 * The HTTP half of Git's smart protocol (gitprotocol-http): GET info/refs, POST git-upload-pack
 * or git-receive-pack. Bodies are streamed both ways; nothing here buffers a pack.
 */
export interface SmartHttpOptions {
  credentials?: GitCredentials;
  /** Fail when the server sends nothing for this long (connect, headers, or mid-body). */
  idleTimeoutMs: number;
  userAgent: string;
}

export class GitHttpError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

const MAX_REDIRECTS = 5;

export interface InfoRefsResponse {
  /** Base URL after redirects: POSTs go here. */
  base: string;
  body: IncomingMessage;
  /** Options for the POSTs: without credentials when a redirect left the host or dropped TLS. */
  options: SmartHttpOptions;
}

/** Fetching talks to git-upload-pack; pushing to git-receive-pack. */
export type GitService = 'git-upload-pack' | 'git-receive-pack';

/**
 * GET `<repo>/info/refs?service=<service>`, asking upload-pack for protocol v2 (receive-pack
 * speaks only v0).
 */
export async function getInfoRefs(repo: RepoUrl, options: SmartHttpOptions, service: GitService = 'git-upload-pack'): Promise<InfoRefsResponse> {
  let base = repo.base;
  let credentials = options.credentials;
  for (let redirects = 0; ; redirects++) {
    const url = new URL(`${base}/info/refs?service=${service}`);
    const effective: SmartHttpOptions = { ...options, credentials };
    const protocolHeader: Record<string, string> = service === 'git-upload-pack' ? { 'Git-Protocol': 'version=2' } : {};
    const response = await send(url, 'GET', protocolHeader, undefined, effective, repo);
    const location = response.headers.location;
    if (response.statusCode && response.statusCode >= 300 && response.statusCode < 400 && location) {
      response.resume();
      if (redirects >= MAX_REDIRECTS) throw new GitHttpError(`${repo.display}: more than ${MAX_REDIRECTS} redirects; check the URL`);
      const target = new URL(location, url);
      // Never carry credentials to another host, or from https to plain http.
      if (target.host !== url.host || (url.protocol === 'https:' && target.protocol !== 'https:')) credentials = undefined;
      base = `${target.protocol}//${target.host}${target.pathname.replace(/\/info\/refs$/, '').replace(/\/+$/, '')}`;
      continue;
    }
    await expectOk(response, repo, effective, url);
    expectContentType(response, `application/x-${service}-advertisement`, repo);
    const { credentials: _given, ...rest } = options;
    return { base, body: response, options: credentials ? { ...rest, credentials } : rest };
  }
}

/** POST a request body to `<base>/git-upload-pack`; the response body streams the answer. */
export async function postUploadPack(
  repo: RepoUrl,
  base: string,
  body: Buffer,
  protocolV2: boolean,
  options: SmartHttpOptions,
): Promise<IncomingMessage> {
  const url = new URL(`${base}/git-upload-pack`);
  const headers: Record<string, string> = {
    'Content-Type': 'application/x-git-upload-pack-request',
    Accept: 'application/x-git-upload-pack-result',
    'Content-Length': String(body.length),
  };
  if (protocolV2) headers['Git-Protocol'] = 'version=2';
  const response = await send(url, 'POST', headers, body, options, repo);
  await expectOk(response, repo, options, url);
  expectContentType(response, 'application/x-git-upload-pack-result', repo);
  return response;
}

/**
 * POST a push to `<base>/git-receive-pack`: `commands` (pkt-lines ending in a flush), then the
 * pack streamed from `pack` as it is read. The response streams receive-pack's report.
 */
export async function postReceivePack(
  repo: RepoUrl,
  base: string,
  commands: Buffer,
  pack: { stream: Readable; bytes: number },
  options: SmartHttpOptions,
): Promise<IncomingMessage> {
  const url = new URL(`${base}/git-receive-pack`);
  const headers: Record<string, string> = {
    'Content-Type': 'application/x-git-receive-pack-request',
    Accept: 'application/x-git-receive-pack-result',
    // A known length rather than chunked encoding: some proxies in front of Git hosts refuse chunked pushes.
    'Content-Length': String(commands.length + pack.bytes),
  };
  const response = await send(url, 'POST', headers, { head: commands, stream: pack.stream }, options, repo);
  await expectOk(response, repo, options, url);
  expectContentType(response, 'application/x-git-receive-pack-result', repo);
  return response;
}

type RequestBody = Buffer | { head: Buffer; stream: Readable };

function send(
  url: URL,
  method: 'GET' | 'POST',
  extraHeaders: Record<string, string>,
  body: RequestBody | undefined,
  options: SmartHttpOptions,
  repo: RepoUrl,
): Promise<IncomingMessage> {
  const headers: Record<string, string> = { 'User-Agent': options.userAgent, ...extraHeaders };
  if (options.credentials) {
    const { username, password } = options.credentials;
    headers.Authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(url, { method, headers });
    let response: IncomingMessage | undefined;
    // The socket timeout covers connecting, waiting for headers and every pause mid-body.
    request.setTimeout(options.idleTimeoutMs, () => {
      const error = new GitHttpError(
        `${repo.display}: no data from the server for ${Math.round(options.idleTimeoutMs / 1000)} s; it may be overloaded or stalled — retry later or raise --timeout`,
      );
      // Whoever is reading the body must see this error, not the generic "aborted" that follows.
      response?.destroy(error);
      request.destroy(error);
    });
    request.on('response', (received) => {
      response = received;
      resolve(received);
    });
    request.on('error', (error) => reject(describeNetworkError(error, repo)));
    if (body === undefined || Buffer.isBuffer(body)) {
      request.end(body);
      return;
    }
    request.write(body.head);
    // A body that fails (a store read error, a pack that proved damaged) must abort the request
    // before the server sees a complete push, and its own error is the one to report.
    body.stream.on('error', (error) => {
      const failure = error instanceof GitHttpError ? error : new GitHttpError(`${repo.display}: ${error.message}`);
      response?.destroy(failure);
      request.destroy(failure);
    });
    body.stream.pipe(request);
    request.once('close', () => body.stream.destroy());
  });
}

async function expectOk(response: IncomingMessage, repo: RepoUrl, options: SmartHttpOptions, url: URL): Promise<void> {
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return;
  const text = (await readSmallBody(response)).trim().slice(0, 200);
  const detail = text && !/^</.test(text) ? ` (server said: ${redactUserInfo(text)})` : '';
  const where = `${repo.display}: HTTP ${status} from ${url.pathname}`;
  switch (status) {
    case 401:
      throw new GitHttpError(options.credentials
        ? `${where}: the server rejected the credentials; check the username and password or token, and that the token is not expired${detail}`
        : `${where}: the repository needs credentials; pass --username and --password (or --token), or set ARGOCD_DR_GIT_USERNAME / ARGOCD_DR_GIT_PASSWORD / ARGOCD_DR_GIT_TOKEN${detail}`, status);
    case 403:
      throw new GitHttpError(isPush(url)
        ? `${where}: access denied; the credentials in use lack push (write) access to this repository, or the server does not accept pushes over HTTP${detail}`
        : `${where}: access denied; the credentials in use lack read access to this repository${detail}`, status);
    case 404:
      throw new GitHttpError(`${where}: repository not found; check the URL (some hosts answer 404 for private repositories when no credentials are sent)${detail}`, status);
    default:
      throw new GitHttpError(`${where}${detail}${status >= 500 ? '; the Git server failed, retry later' : ''}`, status);
  }
}

function isPush(url: URL): boolean {
  return url.pathname.endsWith('/git-receive-pack') || url.searchParams.get('service') === 'git-receive-pack';
}

function expectContentType(response: IncomingMessage, expected: string, repo: RepoUrl): void {
  const type = (response.headers['content-type'] ?? '').split(';')[0]?.trim();
  if (type !== expected) {
    response.resume();
    throw new GitHttpError(
      `${repo.display}: the server is not a smart-HTTP Git server (content type "${type || 'none'}", expected ${expected}); dumb HTTP is not supported`,
    );
  }
}

async function readSmallBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      if (size < 4096) chunks.push(chunk);
      size += chunk.length;
    }
  } catch {
    // An error body that cannot be read in full adds nothing to the status line.
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Turns low-level socket errors into a sentence about the repository. */
export function describeNetworkError(error: unknown, repo: RepoUrl): Error {
  if (error instanceof GitHttpError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ECONNREFUSED':
      return new GitHttpError(`${repo.display}: connection refused by ${repo.host}; check the URL and that the Git server is up`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new GitHttpError(`${repo.display}: host ${repo.host} could not be resolved; check the URL and DNS`);
    case 'ECONNRESET':
    case 'EPIPE':
      return new GitHttpError(`${repo.display}: the connection was closed by the server mid-transfer; retry, and check the server or proxy logs if it repeats`);
    default:
      if (message === 'aborted') {
        return new GitHttpError(`${repo.display}: the connection was closed by the server mid-transfer; retry, and check the server or proxy logs if it repeats`);
      }
      if (/certificate|self[- ]signed|SSL|TLS/i.test(message)) {
        return new GitHttpError(`${repo.display}: TLS failure talking to ${repo.host}: ${message}`);
      }
      return new GitHttpError(`${repo.display}: ${redactUserInfo(message)}`);
  }
}
