import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GitCredentials } from '../../lambdas/git/credentials.js';
import { clearGitHubAppTokens, signAppJwt } from '../../lambdas/git/github-app.js';
import { mirrorRepo } from '../../lambdas/git/mirror.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { createEmptyRepo, createRichRepo } from '../../demo/origin-repos.js';
import { startGitHubAppEndpoint, type GitHubAppEndpoint } from '../support/github-app-endpoint.js';

const APP_ID = '424242';
const INSTALLATION_ID = '31337';
const PLANTED_TOKEN = 'ghs_PLANTEDinstallationToken0123456789';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs1', format: 'pem' } });
const app = rsa();
const impostor = rsa();

let git: GitHttpServer;
let github: GitHubAppEndpoint;

beforeAll(async () => {
  const root = await tempDir('app-origins');
  await createRichRepo(root, 'org/rich.git');
  await createEmptyRepo(root, 'org/empty.git');
  // GitHub takes an installation token as the password of user x-access-token.
  git = await startGitHttpServer({ root, auth: { username: 'x-access-token', password: PLANTED_TOKEN } });
  github = await startGitHubAppEndpoint({ appId: APP_ID, publicKey: app.publicKey, installations: { [INSTALLATION_ID]: PLANTED_TOKEN } });
});

afterAll(async () => {
  await Promise.all([git?.close(), github?.close()]);
  await removeTempDirs();
});

beforeEach(() => {
  clearGitHubAppTokens();
  github.requests.length = 0;
});

const credentials = (overrides: Partial<GitCredentials> = {}): GitCredentials => ({
  githubAppID: APP_ID, githubAppInstallationID: INSTALLATION_ID, githubAppPrivateKey: app.privateKey, githubAppEnterpriseBaseUrl: github.baseUrl, ...overrides,
});

async function mirror(repoPath: string, given: GitCredentials) {
  return mirrorRepo(`${git.url}/${repoPath}`, { store: openStore(await tempDir('store')), credentials: given, idleTimeoutMs: 20_000 });
}

function expectNoSecrets(text: string): void {
  expect(text).not.toContain(PLANTED_TOKEN);
  for (const key of [app.privateKey, impostor.privateKey]) {
    for (const line of key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) expect(text).not.toContain(line);
  }
}

describe('GitHub App credentials', () => {
  it('buy an installation token with an RS256 JWT and mirror with it; the token is reused until it nears expiry', async () => {
    const first = await mirror('org/rich.git', credentials());
    expect(first.status).toBe('mirrored');
    expect((await mirror('org/empty.git', credentials())).status).toBe('empty');
    expect(github.requests).toEqual([{ path: `/api/v3/app/installations/${INSTALLATION_ID}/access_tokens`, status: 201 }]);
    expectNoSecrets(JSON.stringify(first));
  });

  it('a key that is not the app\'s: GitHub refuses the JWT, and says so without the key', async () => {
    const result = await mirror('org/rich.git', credentials({ githubAppPrivateKey: impostor.privateKey }));
    expect(result).toMatchObject({ status: 'failed', error: expect.stringMatching(/GitHub refused the app's JWT \(HTTP 401\).*check githubAppID and that githubAppPrivateKey/) });
    expect(github.requests[0]?.refused).toBe('A JSON web token could not be decoded');
    expectNoSecrets(JSON.stringify(result));
  });

  it('another app id: refused', async () => {
    const result = await mirror('org/rich.git', credentials({ githubAppID: '999' }));
    expect(result.error).toMatch(/HTTP 401/);
    expect(github.requests[0]?.refused).toBe('Integration not found');
  });

  it('an installation the app does not have', async () => {
    const result = await mirror('org/rich.git', credentials({ githubAppInstallationID: '1' }));
    expect(result.error).toMatch(/GitHub knows no installation 1 of app 424242 \(HTTP 404\).*check githubAppInstallationID/);
  });

  it('a password wins over the app, as in Argo CD: no token is bought', async () => {
    const result = await mirror('org/rich.git', credentials({ githubAppPrivateKey: impostor.privateKey, username: 'x-access-token', password: PLANTED_TOKEN }));
    expect(result.status).toBe('mirrored');
    expect(github.requests).toEqual([]);
  });

  it('a private key that is not PEM, or fields missing', async () => {
    const notPem = await mirror('org/rich.git', credentials({ githubAppPrivateKey: 'PLANTED-not-a-pem-key-material' }));
    expect(notPem.error).toMatch(/githubAppPrivateKey is not a PEM private key/);
    expect(notPem.error).not.toContain('PLANTED-not-a-pem');
    const missing = await mirror('org/rich.git', { githubAppID: APP_ID, githubAppPrivateKey: app.privateKey });
    expect(missing.error).toMatch(/GitHub App credentials lack githubAppInstallationID/);
    expect(github.requests).toEqual([]);
  });

  it('signs the claims GitHub asks for: iss, iat a minute back, exp within ten minutes', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const [header, payload] = signAppJwt(APP_ID, app.privateKey, now).split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(payload).toEqual({ iss: APP_ID, iat: now / 1000 - 60, exp: now / 1000 - 60 + 540 });
  });
});
