import { createPrivateKey, createSign } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { redactSecrets } from '../shared/redact.js';
import { credentialSecrets, type GitCredentials } from './credentials.js';

/**
 * GitHub App authentication as Argo CD does it: a JWT signed with the app's private key (RS256)
 * buys an installation access token, which git then sends as Basic `x-access-token:<token>`.
 * Tokens are cached until shortly before they expire, so a backup of many repos asks once.
 */
export const GITHUB_API = 'https://api.github.com';

export class GitHubAppError extends Error {}

export interface GitHubAppRequestOptions {
  /** The repository the token is for, for messages. */
  repo: string;
  idleTimeoutMs: number;
  userAgent: string;
  /** TLS and proxy options for a request to the API (custom CA of a GitHub Enterprise host). */
  tls: (url: URL) => https.RequestOptions;
  now?: () => number;
}

/** A password wins over an app, as in Argo CD; an app with fields missing is one, so the missing fields are named. */
export function isGitHubApp(credentials: GitCredentials): boolean {
  if (credentials.password || credentials.bearerToken) return false;
  return credentials.githubAppPrivateKey !== undefined || credentials.githubAppID !== undefined || credentials.githubAppInstallationID !== undefined;
}

// A token is reused until this long before its expiry: a fetch started on it must not outlive it.
const EXPIRY_MARGIN_MS = 5 * 60_000;
const cache = new Map<string, { token: string; expiresAt: number }>();

/** Forgets every cached installation token (tests; a rotated app key). */
export function clearGitHubAppTokens(): void {
  cache.clear();
}

/** An installation token for the app's credentials, from the cache or from the API. */
export async function githubAppToken(credentials: GitCredentials, options: GitHubAppRequestOptions): Promise<string> {
  const { githubAppID: appId, githubAppInstallationID: installationId, githubAppPrivateKey: privateKey } = credentials;
  const missing = [!appId && 'githubAppID', !installationId && 'githubAppInstallationID', !privateKey && 'githubAppPrivateKey'].filter(Boolean);
  if (missing.length > 0) throw new GitHubAppError(`${options.repo}: GitHub App credentials lack ${missing.join(', ')}; set them on the repository secret`);
  if (!/^\d+$/.test(appId!) || !/^\d+$/.test(installationId!)) {
    throw new GitHubAppError(`${options.repo}: githubAppID and githubAppInstallationID must be numbers (they are shown on the app's settings and installation pages)`);
  }
  const api = (credentials.githubAppEnterpriseBaseUrl || GITHUB_API).replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const key = `${api}|${appId}|${installationId}`;
  const cached = cache.get(key);
  if (cached && cached.expiresAt - EXPIRY_MARGIN_MS > now()) return cached.token;

  const jwt = signAppJwt(appId!, privateKey!, now(), options.repo);
  const url = new URL(`${api}/app/installations/${installationId}/access_tokens`);
  const { status, body } = await post(url, jwt, options);
  const secrets = [...credentialSecrets(credentials), jwt];
  const said = (): string => {
    const message = typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : '';
    return message ? ` (GitHub said: ${redactSecrets(message.slice(0, 200), secrets)})` : '';
  };
  if (status === 401) throw new GitHubAppError(`${options.repo}: GitHub refused the app's JWT (HTTP 401)${said()}; check githubAppID and that githubAppPrivateKey is a current private key of that app`);
  if (status === 404) throw new GitHubAppError(`${options.repo}: GitHub knows no installation ${installationId} of app ${appId} (HTTP 404)${said()}; check githubAppInstallationID`);
  if (status === 403) throw new GitHubAppError(`${options.repo}: GitHub refused an installation token (HTTP 403)${said()}; check the installation is not suspended`);
  const token = typeof body === 'object' && body !== null ? (body as { token?: unknown }).token : undefined;
  if (status !== 201 && status !== 200 || typeof token !== 'string' || token === '') {
    throw new GitHubAppError(`${options.repo}: unexpected answer from ${url.origin}${url.pathname} (HTTP ${status})${said()}; check githubAppEnterpriseBaseUrl`);
  }
  const expiresText = (body as { expires_at?: unknown }).expires_at;
  const expiresAt = typeof expiresText === 'string' && !Number.isNaN(Date.parse(expiresText)) ? Date.parse(expiresText) : now() + 60 * 60_000;
  cache.set(key, { token, expiresAt });
  return token;
}

/** The app's JWT: iat a minute in the past against clock drift, exp within GitHub's 10-minute limit. */
export function signAppJwt(appId: string, privateKeyPem: string, nowMs: number, repo = 'GitHub App'): string {
  let key;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch {
    throw new GitHubAppError(`${repo}: githubAppPrivateKey is not a PEM private key; paste the .pem file GitHub generated for the app`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new GitHubAppError(`${repo}: githubAppPrivateKey must be an RSA key (GitHub App keys are)`);
  const iat = Math.floor(nowMs / 1000) - 60;
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ iat, exp: iat + 9 * 60, iss: appId })}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(key).toString('base64url');
  return `${unsigned}.${signature}`;
}

function post(url: URL, jwt: string, options: GitHubAppRequestOptions): Promise<{ status: number; body: unknown }> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(url, {
      method: 'POST',
      headers: {
        Accept: 'application/vnd.github+json',
        Authorization: `Bearer ${jwt}`,
        'User-Agent': options.userAgent,
        'X-GitHub-Api-Version': '2022-11-28',
        'Content-Length': '0',
      },
      ...options.tls(url),
    });
    request.setTimeout(options.idleTimeoutMs, () => request.destroy(new GitHubAppError(`${options.repo}: no answer from ${url.origin} for an installation token; retry later`)));
    request.on('error', (error) => reject(error instanceof GitHubAppError ? error
      : new GitHubAppError(`${options.repo}: could not reach ${url.origin} for a GitHub App installation token: ${redactSecrets(error.message, [jwt])}; check githubAppEnterpriseBaseUrl and the network`)));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    request.end();
  });
}
