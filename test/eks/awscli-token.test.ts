import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createEksToken } from '../../lambdas/eks/token.js';
import { isVerified, verifyEksToken } from '../support/eks/token-verifier.js';
import { assertNoSecrets, planted, plantedLongTerm, verifierOptions } from '../support/eks/fake-credentials.js';

const run = promisify(execFile);
const awsVersion = spawnSync('aws', ['--version'], { encoding: 'utf8' });
const haveAws = awsVersion.status === 0;
const note = haveAws ? `(${(awsVersion.stdout || awsVersion.stderr).trim().split(' ')[0]})` : '— SKIPPED: `aws` is not on PATH';
if (!haveAws) console.warn('[eks] awscli not found: the comparison with `aws eks get-token` is skipped');

// awscli reads no files and asks no metadata service: only the planted keys in its environment.
const home = mkdtempSync(path.join(tmpdir(), 'eks-awscli-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

interface ExecCredential {
  kind: string;
  status: { token: string; expirationTimestamp: string };
}

async function awsGetToken(clusterName: string, region: string, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_CONFIG_FILE: path.join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
  };
  const { stdout, stderr } = await run('aws', ['eks', 'get-token', '--cluster-name', clusterName, '--region', region, '--output', 'json'], { env });
  assertNoSecrets(stderr);
  return JSON.parse(stdout) as ExecCredential;
}

function query(token: string): URLSearchParams {
  return new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8')).searchParams;
}

describe(`our token against aws eks get-token ${note}`, () => {
  const cases = [
    { what: 'temporary credentials', credentials: planted, region: 'eu-west-1' },
    { what: 'a long-term key', credentials: plantedLongTerm, region: 'us-east-1' },
    { what: 'the China partition', credentials: planted, region: 'cn-north-1' },
  ];

  for (const { what, credentials, region } of cases) {
    it.skipIf(!haveAws)(`is byte-identical when signed in the same second, with ${what} in ${region}`, async () => {
      const cli = await awsGetToken('prod-east', region, credentials);
      expect(cli.kind).toBe('ExecCredential');
      const cliToken = cli.status.token;

      // Sign with awscli's own X-Amz-Date, so the two tokens must be the same bytes.
      const amzDate = query(cliToken).get('X-Amz-Date')!;
      const signingTime = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      const ours = await createEksToken({ clusterName: 'prod-east', region, credentials: async () => ({ ...credentials }), now: () => signingTime });

      expect(ours.token).toBe(cliToken);
      // awscli reads the clock again for the expiry; allow it a couple of seconds.
      expect(Math.abs(new Date(cli.status.expirationTimestamp).getTime() - ours.expiresAt.getTime())).toBeLessThanOrEqual(2_000);
      expect(cliToken).not.toContain(credentials.secretAccessKey);
    });
  }

  it.skipIf(!haveAws)('has the same structure, and the local verifier accepts the awscli token only for its cluster', async () => {
    const cli = await awsGetToken('prod-east', 'eu-west-1', planted);
    const ours = await createEksToken({ clusterName: 'prod-east', region: 'eu-west-1', credentials: async () => ({ ...planted }) });
    const [a, b] = [query(cli.status.token), query(ours.token)];
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const name of ['Action', 'Version', 'X-Amz-Algorithm', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Security-Token']) {
      expect(b.get(name), name).toBe(a.get(name));
    }
    expect(new URL(Buffer.from(cli.status.token.slice(11), 'base64url').toString()).host).toBe('sts.eu-west-1.amazonaws.com');

    // The verifier was written from the SigV4 spec, not from @smithy/signature-v4: botocore agreeing is the check.
    const now = () => new Date();
    expect(verifyEksToken(cli.status.token, verifierOptions('prod-east', now))).toMatchObject({ user: 'argocd-dr' });
    expect(isVerified(verifyEksToken(ours.token, verifierOptions('prod-east', now)))).toBe(true);
    const wrong = verifyEksToken(cli.status.token, verifierOptions('staging', now));
    expect(wrong).toMatchObject({ error: expect.stringMatching(/SignatureDoesNotMatch/) });
  });
});
