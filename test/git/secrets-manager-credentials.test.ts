import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mirrorRepo } from '../../lambdas/git/mirror.js';
import { parseExtraRepoCredentials, readExtraRepoCredentials } from '../../lambdas/git/secrets-manager-credentials.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { createRichRepo } from '../../demo/origin-repos.js';
import { planted } from '../support/eks/fake-credentials.js';
import { startGetSecretValueEndpoint, type GetSecretValueEndpoint } from '../support/secrets-manager/get-secret-value-endpoint.js';

const PLANTED_PASSWORD = 'PLANTED-extra-repo-password-5d2e';
const SECRET = 'argocd-dr/extra-repos';

let git: GitHttpServer;
let endpoint: GetSecretValueEndpoint;
const savedEndpoint = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;

beforeAll(async () => {
  const root = await tempDir('sm-origins');
  await createRichRepo(root, 'platform/charts.git');
  git = await startGitHttpServer({ root, auth: { username: 'backup-bot', password: PLANTED_PASSWORD } });
  endpoint = await startGetSecretValueEndpoint({
    keys: { [planted.accessKeyId]: planted.secretAccessKey },
    secrets: {
      [SECRET]: JSON.stringify([
        { url: `${git.url}/platform/`, username: 'backup-bot', password: PLANTED_PASSWORD },
        { url: `${git.url}/platform/other.git`, bearerToken: 'PLANTED-bearer-for-other' },
        { url: 'git@git.example.com:infra/', sshPrivateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nPLANTEDkeyBody\n-----END OPENSSH PRIVATE KEY-----\n', insecureIgnoreHostKey: 'true' },
      ]),
      'not-json': `{"url": "https://x", "password": "${PLANTED_PASSWORD}"`,
    },
    denied: ['forbidden'],
  });
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = endpoint.url;
});

afterEach(() => {
  endpoint.requests.length = 0;
});

afterAll(async () => {
  if (savedEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  else process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = savedEndpoint;
  await Promise.all([git?.close(), endpoint?.close()]);
  await removeTempDirs();
});

// The endpoint comes from AWS_ENDPOINT_URL_SECRETS_MANAGER, as in a Lambda pointed at a VPC endpoint.
const client = (secretAccessKey: string = planted.secretAccessKey) => new SecretsManagerClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: planted.accessKeyId, secretAccessKey, sessionToken: planted.sessionToken },
});

describe('extra repository credentials from Secrets Manager', () => {
  it('reads the named secret with a signed GetSecretValue and mirrors a private repo Argo CD does not know', async () => {
    const extra = await readExtraRepoCredentials(SECRET, client());
    expect(endpoint.requests).toMatchObject([{ target: 'secretsmanager.GetSecretValue', secretId: SECRET, status: 200 }]);
    expect(endpoint.requests[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAPLANTEDKEY000001\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request/);
    expect(extra.entries).toBe(3);

    const url = `${git.url}/platform/charts.git`;
    const credentials = extra.credentialsFor(url);
    expect(credentials).toEqual({ username: 'backup-bot', password: PLANTED_PASSWORD });
    const result = await mirrorRepo(url, { store: openStore(await tempDir('store')), ...(credentials ? { credentials } : {}) });
    expect(result.status).toBe('mirrored');
  });

  it('picks the longest matching URL prefix, after Argo CD\'s URL normalisation', async () => {
    const extra = await readExtraRepoCredentials(SECRET, client());
    expect(extra.credentialsFor(`${git.url}/platform/other.git`)).toEqual({ bearerToken: 'PLANTED-bearer-for-other' });
    expect(extra.credentialsFor(`${git.url}/Platform/Charts`)).toMatchObject({ username: 'backup-bot' });
    expect(extra.credentialsFor('ssh://git@git.example.com/infra/deploy.git')).toMatchObject({ insecureIgnoreHostKey: true });
    expect(extra.credentialsFor(`${git.url}/elsewhere/repo.git`)).toBeUndefined();
  });

  it('a wrongly signed request is refused by the endpoint, and the error says so', async () => {
    await expect(readExtraRepoCredentials(SECRET, client('wrong-secret-key-0123456789'))).rejects.toThrow(/reading the extra repositories secret "argocd-dr\/extra-repos" failed: InvalidSignatureException/);
    expect(endpoint.requests[0]?.refused).toMatch(/signature we calculated does not match/);
  });

  it('says what to do when the secret is missing, not readable, or not the expected JSON — never quoting it', async () => {
    await expect(readExtraRepoCredentials('nope', client())).rejects.toThrow(/secret "nope" does not exist in eu-west-1; create it, or fix extraReposSecret/);
    await expect(readExtraRepoCredentials('forbidden', client())).rejects.toThrow(/needs secretsmanager:GetSecretValue on it/);
    const notJson = await readExtraRepoCredentials('not-json', client()).catch((error: Error) => error.message);
    expect(notJson).toMatch(/is not JSON; it must be a list/);
    expect(notJson).not.toContain(PLANTED_PASSWORD);
    expect(() => parseExtraRepoCredentials(JSON.stringify([{ url: 'https://x/', password: PLANTED_PASSWORD, pasword: 'typo' }]), 's')).toThrow(/entry 0: unknown field "pasword"/);
    expect(() => parseExtraRepoCredentials(JSON.stringify([{ password: PLANTED_PASSWORD }]), 's')).toThrow(/entry 0: url:/);
    expect(() => parseExtraRepoCredentials(JSON.stringify({ url: 'https://x/' }), 's')).toThrow(/must be a JSON list/);
  });
});
