import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { redactSecrets } from '../shared/redact.js';
import { credentialSecrets, type GitConnectionContext, type GitCredentials } from './credentials.js';
import { isGitHubApp, githubAppToken } from './github-app.js';
import { PktLineReader } from './pkt-line.js';
import { proxyFor } from './proxy.js';
import type { RepoUrl } from './repo-url.js';
import { redactUserInfo } from './repo-url.js';
import type { UploadPackConnection } from './transport.js';

/**
 * The HTTP half of Git's smart protocol (gitprotocol-http): GET info/refs, POST git-upload-pack
 * or git-receive-pack. Bodies are streamed both ways; nothing here buffers a pack.
 */
export interface SmartHttpOptions {
  credentials?: GitCredentials;
  /** Extra CAs per host (argocd-tls-certs-cm). */
  context?: GitConnectionContext;
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

/** Smart HTTP as an upload-pack conversation: GET info/refs, then one POST per request. */
export function openHttpConnection(repo: RepoUrl, options: SmartHttpOptions): UploadPackConnection {
  // After discovery: the base URL and options that redirects left (POSTs go there).
  let base = repo.base;
  let effective = options;
  return {
    repo,
    userAgent: options.userAgent,
    async advertise() {
      const resolved = await resolveGitHubApp(repo, options);
      const response = await getInfoRefs(repo, resolved);
      base = response.base;
      effective = response.options;
      return new PktLineReader(response.body);
    },
    async request(body, protocolV2) {
      return new PktLineReader(await postUploadPack(repo, base, body, protocolV2, effective));
    },
    release: (reader) => reader.close(),
    describeError: (error) => describeNetworkError(error, repo),
    close: async () => undefined,
  };
}

/**
 * GET receive-pack's advertisement, where a push starts: the same identity (a GitHub App's
 * installation token included), TLS, proxy and redirect rules as a fetch. The response's base and
 * options are where the push's POST goes.
 */
export async function getReceivePackAdvertisement(repo: RepoUrl, options: SmartHttpOptions): Promise<InfoRefsResponse> {
  return getInfoRefs(repo, await resolveGitHubApp(repo, options), 'git-receive-pack');
}

/** A GitHub App's credentials become Basic auth with an installation token, as git on GitHub takes it. */
async function resolveGitHubApp(repo: RepoUrl, options: SmartHttpOptions): Promise<SmartHttpOptions> {
  const credentials = options.credentials;
  if (!credentials || !isGitHubApp(credentials)) return options;
  const token = await githubAppToken(credentials, {
    repo: repo.display,
    idleTimeoutMs: options.idleTimeoutMs,
    userAgent: options.userAgent,
    tls: (url) => tlsOptionsFor(url, { ...options, credentials }),
  });
  return { ...options, credentials: { ...credentials, username: 'x-access-token', password: token } };
}

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
      // Never carry credentials (or a client certificate) to another host, or from https to plain http.
      if (target.host !== url.host || (url.protocol === 'https:' && target.protocol !== 'https:')) credentials = withoutIdentity(credentials);
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

/** What is left of credentials after a redirect off the host: how to connect, not who we are. */
function withoutIdentity(credentials: GitCredentials | undefined): GitCredentials | undefined {
  if (!credentials) return undefined;
  const { insecure, proxy, noProxy } = credentials;
  const kept: GitCredentials = {
    ...(insecure !== undefined ? { insecure } : {}), ...(proxy !== undefined ? { proxy } : {}), ...(noProxy !== undefined ? { noProxy } : {}),
  };
  return Object.keys(kept).length > 0 ? kept : undefined;
}

/** Whether credentials identify the client (as opposed to only saying how to connect). */
function identifies(credentials: GitCredentials | undefined): boolean {
  return !!credentials && (credentials.password !== undefined || credentials.bearerToken !== undefined
    || credentials.tlsClientCertData !== undefined || isGitHubApp(credentials));
}

type TlsOptions = Pick<https.RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'agent'>;

/**
 * TLS and proxy settings for one request, as Argo CD's repo-server applies them: the host's CAs from
 * argocd-tls-certs-cm (keyed by host name without port) replace the system roots, `insecure` alone
 * turns verification off, a client certificate is sent when the secret has one.
 */
export function tlsOptionsFor(url: URL, options: Pick<SmartHttpOptions, 'credentials' | 'context'>): TlsOptions {
  const credentials = options.credentials;
  const result: TlsOptions = {};
  if (url.protocol === 'https:') {
    const ca = options.context?.tlsCerts?.[url.hostname.toLowerCase()];
    if (ca) result.ca = ca;
    if (credentials?.insecure === true) result.rejectUnauthorized = false;
    if (credentials?.tlsClientCertData && credentials.tlsClientCertKey) {
      result.cert = credentials.tlsClientCertData;
      result.key = credentials.tlsClientCertKey;
    }
  }
  const proxy = proxyFor(url, credentials);
  // https targets tunnel through CONNECT; plain http goes to the proxy with an absolute URI (see send).
  if (proxy && url.protocol === 'https:') result.agent = new HttpsProxyAgent(proxy);
  return result;
}

/** Authorization header for the credentials in use: Bearer for bearerToken, else Basic. */
function authorization(credentials: GitCredentials | undefined): string | undefined {
  if (credentials?.bearerToken) return `Bearer ${credentials.bearerToken}`;
  if (credentials?.password !== undefined) {
    return `Basic ${Buffer.from(`${credentials.username ?? ''}:${credentials.password}`).toString('base64')}`;
  }
  return undefined;
}

function send(
  url: URL,
  method: 'GET' | 'POST',
  extraHeaders: Record<string, string>,
  body: RequestBody | undefined,
  options: SmartHttpOptions,
  repo: RepoUrl,
): Promise<IncomingMessage> {
  const headers: Record<string, string> = { 'User-Agent': options.userAgent, ...extraHeaders };
  const auth = authorization(options.credentials);
  if (auth) headers.Authorization = auth;
  const client = url.protocol === 'https:' ? https : http;
  const tls = tlsOptionsFor(url, options);
  const proxy = url.protocol === 'http:' ? proxyFor(url, options.credentials) : undefined;
  return new Promise((resolve, reject) => {
    let request: http.ClientRequest;
    try {
      request = proxy
        // A plain-http proxy takes the absolute URL as the request target.
        ? http.request({ host: proxy.hostname, port: proxy.port || 80, path: url.href, method, headers: { ...headers, Host: url.host, ...proxyAuthorization(proxy) } })
        : client.request(url, { method, headers, ...tls });
    } catch (error) {
      // A certificate or key that does not parse fails before any connection.
      reject(describeNetworkError(error, repo, options.credentials));
      return;
    }
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
    request.on('error', (error) => reject(describeNetworkError(error, repo, options.credentials)));
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

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const user = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'Proxy-Authorization': `Basic ${Buffer.from(user).toString('base64')}` };
}

async function expectOk(response: IncomingMessage, repo: RepoUrl, options: SmartHttpOptions, url: URL): Promise<void> {
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return;
  const text = (await readSmallBody(response)).trim().slice(0, 200);
  const detail = text && !/^</.test(text) ? ` (server said: ${redactUserInfo(text)})` : '';
  const where = `${repo.display}: HTTP ${status} from ${url.pathname}`;
  switch (status) {
    case 401:
      throw new GitHttpError(identifies(options.credentials)
        ? `${where}: ${rejected(options.credentials!, isPush(url))}${redactSecrets(detail, credentialSecrets(options.credentials))}`
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

function rejected(credentials: GitCredentials, push: boolean): string {
  const access = push ? 'write to' : 'read';
  if (credentials.githubAppPrivateKey) {
    return `the server rejected the credentials (a GitHub App installation token); check the app is installed on this repository's owner with Contents: ${push ? 'read and write' : 'read'}`;
  }
  if (credentials.bearerToken) return `the server rejected the credentials (a bearer token); check the token is right, not expired, and allowed to ${access} this repository`;
  if (credentials.password === undefined) return 'the server rejected the credentials (a TLS client certificate only); it wants a username and password or token too';
  return 'the server rejected the credentials; check the username and password or token, and that the token is not expired';
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
export function describeNetworkError(error: unknown, repo: RepoUrl, credentials?: GitCredentials): Error {
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
      if (credentials?.tlsClientCertData && repo.base.startsWith('https:')) {
        // TLS 1.3 servers check a client certificate after the client thinks the handshake is done.
        return new GitHttpError(`${repo.display}: the connection was closed by the server; it may have refused the client certificate — check tlsClientCertData / tlsClientCertKey and that the server trusts their CA`);
      }
      return new GitHttpError(`${repo.display}: the connection was closed by the server mid-transfer; retry, and check the server or proxy logs if it repeats`);
    default:
      if (message === 'aborted') {
        return new GitHttpError(`${repo.display}: the connection was closed by the server mid-transfer; retry, and check the server or proxy logs if it repeats`);
      }
      if (/key values mismatch|PEM|ASN1|no start line/i.test(message) && credentials?.tlsClientCertData) {
        return new GitHttpError(`${repo.display}: the TLS client certificate and key do not belong together or do not parse (${safe(message, credentials)}); check tlsClientCertData / tlsClientCertKey`);
      }
      if (/certificate required|handshake failure|bad certificate|unknown ca/i.test(message) && !/verify|self[- ]signed|issuer/i.test(message)) {
        return new GitHttpError(credentials?.tlsClientCertData
          ? `${repo.display}: TLS failure talking to ${repo.host}: the server refused the client certificate (${alertOf(message)}); check tlsClientCertData / tlsClientCertKey and that the server trusts their CA`
          : `${repo.display}: TLS failure talking to ${repo.host}: the server asks for a client certificate (${alertOf(message)}); set tlsClientCertData and tlsClientCertKey on the repository (--client-cert/--client-key)`);
      }
      if (/unable to (get|verify)|self[- ]signed|certificate|issuer/i.test(message) && !/alert/i.test(message)) {
        return new GitHttpError(`${repo.display}: TLS failure talking to ${repo.host}: ${safe(message, credentials)}; add the CA that signed the server's certificate to argocd-tls-certs-cm under the host name ${hostnameOf(repo)} (--ca-cert), or set insecure on the repository if you accept an unverified server`);
      }
      if (/SSL|TLS/i.test(message)) return new GitHttpError(`${repo.display}: TLS failure talking to ${repo.host}: ${safe(message, credentials)}`);
      return new GitHttpError(`${repo.display}: ${safe(message, credentials)}`);
  }
}

function safe(message: string, credentials: GitCredentials | undefined): string {
  return redactSecrets(redactUserInfo(message), credentialSecrets(credentials));
}

/** OpenSSL's reason ("tlsv13 alert certificate required") without its source-file noise. */
function alertOf(message: string): string {
  return /(tlsv1\d? alert [a-z ]+|sslv3 alert [a-z ]+)/i.exec(message)?.[1] ?? message.split(':').slice(-1)[0]!.trim();
}

function hostnameOf(repo: RepoUrl): string {
  return repo.host.replace(/:\d+$/, '');
}
