import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { gitEnv } from '../git.js';

/** A misbehaviour the bridge applies to one repository's requests. */
export type Fault =
  /** Sends exactly afterBytes body bytes of the pack-carrying POST response, then closes the connection. */
  | { kind: 'cut'; afterBytes: number }
  /** Sends the pack-carrying POST response's status and headers, then nothing until close(). */
  | { kind: 'stall' }
  /** Answers every request for the repository with this status and a short text body. */
  | { kind: 'status'; status: number }
  /** Buffers the pack-carrying POST response and sends transform(body) instead. */
  | { kind: 'rewrite'; transform: (body: Buffer) => Buffer }
  /** Buffers the ref advertisement (GET info/refs) and sends transform(body) instead, e.g. to offer fewer capabilities, as an older server does. */
  | { kind: 'advertise'; transform: (body: Buffer) => Buffer }
  /** Sends the pack-carrying POST response at about bytesPerSecond, ten pieces a second: a slow link, for progress displays. */
  | { kind: 'slow'; bytesPerSecond: number }
  /** Answers every request for the repository with a 301 to the same path under another repository (a renamed repo), on this server or at `toOrigin`. */
  | { kind: 'redirect'; toRepoPath: string; toOrigin?: string };

export interface GitHttpServerOptions {
  /** GIT_PROJECT_ROOT: bare repositories under it are served as /<relative path>. */
  root: string;
  /** Require HTTP Basic with these credentials; missing or wrong ones get 401. */
  auth?: { username: string; password: string };
  /** 'v0' drops the client's Git-Protocol header, so git answers like a server without protocol v2. */
  protocol?: 'v2' | 'v0';
  /** Allow pushes (git-receive-pack); off unless asked, even for authenticated users. */
  receivePack?: boolean;
  host?: string;
  port?: number;
  /** Serve HTTPS with this certificate; with clientCaPem, only clients showing a certificate that CA signed get through. */
  tls?: { certPem: string; keyPem: string; clientCaPem?: string };
  /** Also accept `Authorization: Bearer <token>` for this token (as Bitbucket Data Center does). */
  bearerToken?: string;
}

export interface RequestRecord {
  method: string;
  /** URL path, percent-decoded, e.g. /org/repo.git/git-upload-pack. */
  path: string;
  /** Query string without '?', e.g. service=git-upload-pack. */
  query: string;
  /** The Git-Protocol header the client sent (e.g. version=2), whether or not it was passed on. */
  gitProtocol: string | undefined;
  /** Status sent; 0 until the response head goes out. */
  status: number;
  /** Request body as git saw it (gunzipped when the client sent it gzip-encoded); first 64 MiB only. */
  requestBody: Buffer;
  /** Response body bytes written to the client so far. */
  responseBytes: number;
  /** What git http-backend wrote to stderr (first 64 KiB), for diagnosing failures. */
  stderr: string;
}

export interface GitHttpServer {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  /** Every request so far, in arrival order; records fill in as responses progress. */
  readonly requests: RequestRecord[];
  /** Sets (or with undefined clears) the fault for requests under /<repoPath> (e.g. org/repo.git). */
  setFault(repoPath: string, fault: Fault | undefined): void;
  /** Stops listening, drops every connection (stalled ones too) and kills every git child. */
  close(): Promise<void>;
}

const STDERR_LIMIT = 64 * 1024;
// Request bodies are kept for assertions; a push of a big repository should not be kept whole.
const RECORD_LIMIT = 64 * 1024 * 1024;

/** Starts git http-backend behind a Node HTTP bridge. */
export async function startGitHttpServer(options: GitHttpServerOptions): Promise<GitHttpServer> {
  const root = path.resolve(options.root);
  const protocol = options.protocol ?? 'v2';
  const requests: RequestRecord[] = [];
  const faults = new Map<string, Fault>();
  const children = new Set<ChildProcessWithoutNullStreams>();
  const sockets = new Set<Socket>();

  // Config for the server side only, passed the way `git -c` would; safe.directory keeps git's
  // ownership check from refusing fixtures made by another user.
  const config: [string, string][] = [
    ['safe.directory', '*'],
    ['http.receivepack', options.receivePack ? 'true' : 'false'],
  ];
  const baseEnv = gitEnv({
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_COUNT: String(config.length),
    ...Object.fromEntries(config.flatMap(([key, value], i) => [[`GIT_CONFIG_KEY_${i}`, key], [`GIT_CONFIG_VALUE_${i}`, value]])),
  });

  const listener: RequestListener = (req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A bug in the bridge: make it visible to the client rather than hang it.
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`bridge error: ${String(error)}\n`);
      } else {
        res.destroy();
      }
    });
  };
  const tls = options.tls;
  const server = tls
    ? createHttpsServer({
      cert: tls.certPem,
      key: tls.keyPem,
      ...(tls.clientCaPem ? { ca: tls.clientCaPem, requestCert: true, rejectUnauthorized: true } : {}),
    }, listener)
    : createServer(listener);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function faultRepoPathOf(urlPath: string): string | undefined {
    for (const repoPath of faults.keys()) {
      const prefix = `/${repoPath}`;
      if (urlPath === prefix || urlPath.startsWith(`${prefix}/`)) return repoPath;
    }
    return undefined;
  }

  function faultFor(urlPath: string): Fault | undefined {
    const repoPath = faultRepoPathOf(urlPath);
    return repoPath === undefined ? undefined : faults.get(repoPath);
  }

  function authorized(req: IncomingMessage): string | undefined | false {
    if (!options.auth && !options.bearerToken) return undefined;
    const header = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)$/i.exec(header);
    if (bearer) return options.bearerToken !== undefined && bearer[1] === options.bearerToken ? 'bearer' : false;
    if (!options.auth) return false;
    const match = /^Basic\s+(\S+)$/i.exec(header);
    if (!match?.[1]) return false;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const username = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    return username === options.auth.username && password === options.auth.password ? username : false;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bridge.invalid');
    const urlPath = decodeURIComponent(url.pathname);
    const gitProtocolHeader = req.headers['git-protocol'];
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      path: urlPath,
      query: url.search.replace(/^\?/, ''),
      gitProtocol: Array.isArray(gitProtocolHeader) ? gitProtocolHeader.join(', ') : gitProtocolHeader,
      status: 0,
      requestBody: Buffer.alloc(0),
      responseBytes: 0,
      stderr: '',
    };
    requests.push(record);
    const sendText = (status: number, text: string, headers: OutgoingHttpHeaders = {}): void => {
      const body = Buffer.from(text);
      record.status = status;
      record.responseBytes = body.length;
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, ...headers });
      res.end(body);
    };

    const user = authorized(req);
    if (user === false) {
      req.resume();
      sendText(401, 'authentication required\n', { 'WWW-Authenticate': 'Basic realm="git"' });
      return;
    }

    const fault = faultFor(urlPath);
    if (fault?.kind === 'status') {
      req.resume();
      sendText(fault.status, `fault: status ${fault.status}\n`);
      return;
    }
    if (fault?.kind === 'redirect') {
      req.resume();
      const from = faultRepoPathOf(urlPath)!;
      const target = `${fault.toOrigin ?? ''}/${fault.toRepoPath}${urlPath.slice(from.length + 1)}${record.query ? `?${record.query}` : ''}`;
      sendText(301, 'moved\n', { Location: target });
      return;
    }

    const contentEncoding = req.headers['content-encoding'];
    const env: Record<string, string> = {
      ...baseEnv,
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      REQUEST_METHOD: record.method,
      PATH_INFO: urlPath,
      QUERY_STRING: record.query,
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
    };
    if (req.headers['content-type']) env.CONTENT_TYPE = req.headers['content-type'];
    // Without CONTENT_LENGTH http-backend reads the body to EOF, which is what a chunked request needs.
    if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
    if (contentEncoding) env.HTTP_CONTENT_ENCODING = contentEncoding;
    if (user !== undefined) env.REMOTE_USER = user;
    if (protocol === 'v2' && record.gitProtocol) env.HTTP_GIT_PROTOCOL = record.gitProtocol;

    // Own process group, so that killing it also ends upload-pack and pack-objects below it.
    const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    children.add(child);
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    void exited.then(() => children.delete(child));
    child.on('error', () => undefined);
    const killChild = (): void => killGroup(child);
    child.stderr.on('data', (chunk: Buffer) => {
      if (record.stderr.length < STDERR_LIMIT) record.stderr += chunk.toString('utf8').slice(0, STDERR_LIMIT - record.stderr.length);
    });

    // Request body: to the CGI as it arrives, and a copy for the record.
    const bodyChunks: Buffer[] = [];
    let recorded = 0;
    let stdinOpen = true;
    child.stdin.on('error', () => undefined);
    child.stdin.on('close', () => {
      // The CGI stopped reading (it answered early or died): drain the rest of the request.
      stdinOpen = false;
      req.resume();
    });
    const requestDone = new Promise<void>((resolve) => {
      req.on('data', (chunk: Buffer) => {
        if (recorded < RECORD_LIMIT) bodyChunks.push(chunk.subarray(0, RECORD_LIMIT - recorded));
        recorded += chunk.length;
        if (stdinOpen && !child.stdin.write(chunk)) {
          req.pause();
          child.stdin.once('drain', () => req.resume());
        }
      });
      req.on('end', () => {
        if (stdinOpen) child.stdin.end();
        record.requestBody = decodeBody(Buffer.concat(bodyChunks), contentEncoding);
        resolve();
      });
      req.on('close', () => resolve());
    });

    let finished = false;
    res.on('close', () => {
      // The client went away (or we cut it): nothing more of git's output is wanted.
      if (!finished) killChild();
    });

    const head = await readCgiHead(child.stdout);
    if (!head) {
      await exited;
      finished = true;
      if (!res.destroyed) sendText(502, `git http-backend produced no response\n${record.stderr}`);
      return;
    }

    const packRequest = record.method === 'POST' && urlPath.endsWith('/git-upload-pack');
    const advertisement = record.method === 'GET' && urlPath.endsWith('/info/refs');
    let mode: Fault['kind'] | 'stream' = 'stream';
    if (fault?.kind === 'advertise') {
      if (advertisement) mode = 'advertise';
    } else if (fault && packRequest) {
      // upload-pack has read the whole request before answering, so the body is complete here.
      await requestDone;
      if (carriesPack(record.requestBody)) mode = fault.kind;
    }

    record.status = head.status;
    if (mode === 'rewrite' || mode === 'advertise' || mode === 'cut') {
      delete head.headers['content-length'];
    }

    if (mode === 'stall') {
      res.writeHead(head.status, head.statusText, head.headers);
      res.flushHeaders();
      killChild();
      return; // the socket stays open until close() destroys it
    }

    if (mode === 'slow' && fault?.kind === 'slow') {
      const chunks: Buffer[] = [head.rest];
      child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      child.stdout.resume();
      await exited;
      finished = true;
      const body = Buffer.concat(chunks);
      const piece = Math.max(1, Math.round(fault.bytesPerSecond / 10));
      res.writeHead(head.status, head.statusText, head.headers);
      for (let at = 0; at < body.length && !res.destroyed; at += piece) {
        const part = body.subarray(at, at + piece);
        record.responseBytes += part.length;
        res.write(part);
        await sleep(100);
      }
      if (!res.destroyed) res.end();
      return;
    }

    if ((mode === 'rewrite' && fault?.kind === 'rewrite') || (mode === 'advertise' && fault?.kind === 'advertise')) {
      const chunks: Buffer[] = [head.rest];
      child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      child.stdout.resume();
      await exited;
      finished = true;
      if (res.destroyed) return;
      const body = fault.transform(Buffer.concat(chunks));
      record.responseBytes = body.length;
      res.writeHead(head.status, head.statusText, { ...head.headers, 'content-length': String(body.length) });
      res.end(body);
      return;
    }

    res.writeHead(head.status, head.statusText, head.headers);
    const limit = mode === 'cut' && fault?.kind === 'cut' ? fault.afterBytes : Infinity;
    const cut = (): void => {
      finished = true;
      killChild();
      // Flushes what was written, then closes: the client sees a body that stops short.
      if (res.socket) res.socket.destroySoon();
      else res.destroy();
    };

    // Writes a chunk, or its part up to the cut limit; false when the caller must wait or stop.
    const send = (chunk: Buffer): boolean => {
      const piece = record.responseBytes + chunk.length > limit ? chunk.subarray(0, limit - record.responseBytes) : chunk;
      record.responseBytes += piece.length;
      if (record.responseBytes < limit) return res.write(piece);
      finished = true;
      killChild();
      if (piece.length > 0) res.write(piece, cut);
      else {
        res.flushHeaders();
        cut();
      }
      return false;
    };
    const waitForDrain = (): void => {
      child.stdout.pause();
      res.once('drain', () => child.stdout.resume());
    };

    child.stdout.on('data', (chunk: Buffer) => {
      if (!finished && !send(chunk) && !finished) waitForDrain();
    });
    if ((limit === 0 || head.rest.length > 0) && !send(head.rest)) {
      if (!finished) waitForDrain();
    } else {
      child.stdout.resume();
    }
    child.stdout.on('end', () => {
      if (finished) return;
      finished = true;
      // A cut whose limit lies beyond the whole body still must not end the response cleanly.
      if (limit !== Infinity) cut();
      else res.end();
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `${tls ? 'https' : 'http'}://${host}:${address.port}`,
    requests,
    setFault(repoPath, fault) {
      const key = repoPath.replace(/^\/+|\/+$/g, '');
      if (fault) faults.set(key, fault);
      else faults.delete(key);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      const waits = [...children].map((child) => new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('close', () => resolve());
      }));
      for (const child of children) killGroup(child);
      await Promise.all([closed, ...waits]);
    },
  };
}

/** Kills the child's whole process group (http-backend and the git commands it started). */
function killGroup(child: ChildProcessWithoutNullStreams): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
  child.stdout.destroy();
}

function decodeBody(body: Buffer, encoding: string | undefined): Buffer {
  if (encoding !== 'gzip' && encoding !== 'x-gzip') return body;
  try {
    return gunzipSync(body);
  } catch {
    return body; // keep what arrived; the test will see it is not a valid request
  }
}

/**
 * Whether an upload-pack request asks for a pack: every v0 POST does; in v2 only `command=fetch`
 * (not ls-refs or object-info).
 */
function carriesPack(body: Buffer): boolean {
  if (body.length < 4) return false;
  const len = Number.parseInt(body.subarray(0, 4).toString('latin1'), 16);
  // A lone flush is the probe git sends before a request bigger than http.postBuffer.
  if (len === 0) return false;
  if (!Number.isFinite(len) || len < 4) return true;
  const first = body.subarray(4, len).toString('latin1');
  if (!first.startsWith('command=')) return true;
  return first.trimEnd() === 'command=fetch';
}

interface CgiHead {
  status: number;
  statusText: string;
  headers: Record<string, string | string[]>;
  /** Body bytes that arrived with the head. */
  rest: Buffer;
}

/** Reads the CGI header block (until an empty line) from stdout; undefined if stdout ends first. */
function readCgiHead(stdout: NodeJS.ReadableStream): Promise<CgiHead | undefined> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = findHeaderEnd(buffered);
      if (!end) return;
      stdout.off('data', onData);
      stdout.off('end', onEnd);
      stdout.pause();
      resolve(parseHead(buffered.subarray(0, end.headEnd).toString('latin1'), buffered.subarray(end.bodyStart)));
    };
    const onEnd = (): void => {
      stdout.off('data', onData);
      resolve(undefined); // no-op when the head was already found
    };
    stdout.on('data', onData);
    stdout.on('end', onEnd);
    stdout.on('close', onEnd);
  });
}

function findHeaderEnd(buf: Buffer): { headEnd: number; bodyStart: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { headEnd: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { headEnd: lf, bodyStart: lf + 2 };
  return undefined;
}

function parseHead(text: string, rest: Buffer): CgiHead {
  let status = 200;
  let statusText = 'OK';
  const headers: Record<string, string | string[]> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'status') {
      const match = /^(\d{3})\s*(.*)$/.exec(value);
      if (match?.[1]) {
        status = Number(match[1]);
        statusText = match[2] || statusText;
      }
      continue;
    }
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else headers[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return { status, statusText, headers, rest };
}
