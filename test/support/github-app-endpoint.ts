import { createPublicKey, createVerify, randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for GitHub's `POST /app/installations/{id}/access_tokens`: it accepts only a
 * JWT whose RS256 signature the app's public key verifies, with GitHub's claim rules (iss = app id,
 * iat not in the future, exp at most 10 minutes after iat and not past), and answers with the
 * installation token it was given, which the test's Git server takes as the password.
 */
export interface GitHubAppEndpointOptions {
  appId: string;
  /** PEM public key of the app. */
  publicKey: string;
  /** Installation id → the token it hands out. */
  installations: Record<string, string>;
  /** Path prefix, as a GitHub Enterprise API lives under /api/v3. */
  prefix?: string;
}

export interface GitHubAppEndpoint {
  /** The value for githubAppEnterpriseBaseUrl. */
  baseUrl: string;
  /** Every request, with the reason it was refused if it was. */
  requests: { path: string; status: number; refused?: string }[];
  close(): Promise<void>;
}

export async function startGitHubAppEndpoint(options: GitHubAppEndpointOptions): Promise<GitHubAppEndpoint> {
  const prefix = options.prefix ?? '/api/v3';
  const publicKey = createPublicKey(options.publicKey);
  const requests: GitHubAppEndpoint['requests'] = [];

  const server = createServer((req, res) => {
    req.resume();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const answer = (status: number, body: object, refused?: string): void => {
      requests.push({ path, status, ...(refused ? { refused } : {}) });
      send(res, status, body);
    };
    const match = new RegExp(`^${prefix}/app/installations/([^/]+)/access_tokens$`).exec(path);
    if (req.method !== 'POST' || !match) return answer(404, { message: 'Not Found' }, 'no such route');
    const jwt = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!jwt) return answer(401, { message: 'A JSON web token could not be decoded' }, 'no bearer JWT');
    const problem = checkJwt(jwt, options.appId, publicKey);
    if (problem) return answer(401, { message: `'${problem}'` }, problem);
    const token = Object.hasOwn(options.installations, match[1]!) ? options.installations[match[1]!] : undefined;
    if (!token) return answer(404, { message: 'Not Found' }, 'unknown installation');
    answer(201, { token, expires_at: new Date(Date.now() + 60 * 60_000).toISOString(), permissions: { contents: 'read' } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** GitHub's checks on an app JWT; a sentence for the first one that fails. */
function checkJwt(jwt: string, appId: string, publicKey: ReturnType<typeof createPublicKey>): string | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'A JSON web token could not be decoded';
  const [header, payload, signature] = parts as [string, string, string];
  let decodedHeader: { alg?: unknown };
  let claims: { iat?: unknown; exp?: unknown; iss?: unknown };
  try {
    decodedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return 'A JSON web token could not be decoded';
  }
  if (decodedHeader.alg !== 'RS256') return 'The JWT must be signed with RS256';
  const verified = createVerify('RSA-SHA256').update(`${header}.${payload}`).verify(publicKey, Buffer.from(signature, 'base64url'));
  if (!verified) return 'A JSON web token could not be decoded';
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number') return 'Missing \'issued at\' or \'expiration\' claim';
  if (claims.iat > now + 30) return 'Issued at time is in the future';
  if (claims.exp <= now) return 'Expiration time claim (\'exp\') is in the past';
  if (claims.exp - claims.iat > 600) return 'Expiration time claim (\'exp\') is too far in the future';
  if (String(claims.iss) !== appId) return 'Integration not found';
  return undefined;
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-github-request-id': randomBytes(8).toString('hex') });
  res.end(text);
}
