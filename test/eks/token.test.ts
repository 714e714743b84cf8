import { describe, expect, it } from 'vitest';
import { createEksToken, EksTokenError, EksTokenSource, stsHostname } from '../../lambdas/eks/token.js';
import { eksTokenAuthenticator, isVerified, verifyEksToken } from '../support/eks/token-verifier.js';
import { assertNoSecrets, planted, plantedLongTerm, plantedProvider, verifierOptions } from '../support/eks/fake-credentials.js';

const cluster = 'prod-east';
const region = 'eu-west-1';
const signedAt = new Date('2026-03-01T12:00:00.400Z');
const at = (iso: string) => () => new Date(iso);

function decode(token: string): string {
  return Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8');
}
function encode(url: string): string {
  return 'k8s-aws-v1.' + Buffer.from(url).toString('base64url');
}
function errorOf(result: ReturnType<typeof verifyEksToken>): string {
  expect(isVerified(result)).toBe(false);
  const { error } = result as { error: string };
  assertNoSecrets(error);
  return error;
}

async function plantedToken(options: { now?: () => Date; clusterName?: string } = {}) {
  return createEksToken({ clusterName: options.clusterName ?? cluster, region, credentials: plantedProvider, now: options.now ?? (() => signedAt) });
}

describe('createEksToken', () => {
  it('makes the token aws eks get-token makes: a presigned STS GetCallerIdentity URL', async () => {
    const { token, expiresAt, signer } = await plantedToken();
    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    expect(token.length).toBeLessThanOrEqual(4096);

    const url = decode(token);
    expect(url.startsWith('https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&')).toBe(true);
    const parsed = new URL(url);
    expect([...parsed.searchParams.keys()]).toEqual([
      'Action', 'Version', 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires',
      'X-Amz-SignedHeaders', 'X-Amz-Security-Token', 'X-Amz-Signature',
    ]);
    const q = Object.fromEntries(parsed.searchParams);
    expect(q).toMatchObject({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': `${planted.accessKeyId}/20260301/eu-west-1/sts/aws4_request`,
      'X-Amz-Date': '20260301T120000Z',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
      'X-Amz-Security-Token': planted.sessionToken,
    });
    expect(q['X-Amz-Signature']).toMatch(/^[0-9a-f]{64}$/);
    // Percent-encoded as SigV4 wants: '/', '+' and '=' of the session token never appear raw.
    expect(url).toContain(`X-Amz-Security-Token=${encodeURIComponent(planted.sessionToken)}`);
    expect(url).not.toContain(planted.secretAccessKey);
    expect(url).not.toContain(encodeURIComponent(planted.secretAccessKey));
    // 14 minutes after the whole second that was signed.
    expect(expiresAt.toISOString()).toBe('2026-03-01T12:14:00.000Z');
    expect(signer).toEqual({ accessKeyId: planted.accessKeyId, accountId: planted.accountId });
  });

  it('leaves X-Amz-Security-Token out for long-term keys', async () => {
    const { token } = await createEksToken({ clusterName: cluster, region, credentials: async () => ({ ...plantedLongTerm }), now: () => signedAt });
    const url = decode(token);
    expect(url).not.toContain('X-Amz-Security-Token');
    expect(verifyEksToken(token, verifierOptions(cluster, at('2026-03-01T12:01:00Z')))).toMatchObject({ user: 'ops', groups: ['system:masters'] });
  });

  it("uses the region's partition for the STS host", () => {
    expect(stsHostname('us-east-1')).toBe('sts.us-east-1.amazonaws.com');
    expect(stsHostname('cn-north-1')).toBe('sts.cn-north-1.amazonaws.com.cn');
    expect(stsHostname('us-gov-west-1')).toBe('sts.us-gov-west-1.amazonaws.com');
    expect(() => stsHostname('evil.example.com/')).toThrow(EksTokenError);
  });

  it('never claims more time than the signing credentials have', async () => {
    const expiration = new Date('2026-03-01T12:05:00Z');
    const { expiresAt } = await createEksToken({ clusterName: cluster, region, credentials: async () => ({ ...planted, expiration }), now: () => signedAt });
    expect(expiresAt).toEqual(expiration);
  });

  it('refuses bad cluster names and explains missing credentials without quoting secrets', async () => {
    await expect(createEksToken({ clusterName: 'prod\r\nx-evil: 1', region, credentials: plantedProvider })).rejects.toThrow(/not a valid EKS cluster name/);
    const failing = async () => {
      throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    };
    const error = await createEksToken({ clusterName: cluster, region, credentials: failing }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EksTokenError);
    expect((error as Error).message).toMatch(/no AWS credentials.*prod-east.*AWS_ACCESS_KEY_ID.*AWS_PROFILE/s);
  });
});

describe('verifyEksToken (what EKS and STS check)', () => {
  const in5min = at('2026-03-01T12:05:00Z');

  it('accepts a fresh token and maps its access key to the Kubernetes identity', async () => {
    const { token } = await plantedToken();
    expect(verifyEksToken(token, verifierOptions(cluster, in5min))).toEqual({
      user: 'argocd-dr',
      groups: ['argocd-dr-readers'],
      arn: `arn:aws:sts::${planted.accountId}:assumed-role/argocd-dr-backup/run-1`,
      accessKeyId: planted.accessKeyId,
    });
  });

  it('refuses a token signed with another secret key', async () => {
    const { token } = await createEksToken({
      clusterName: cluster, region, now: () => signedAt,
      credentials: async () => ({ ...planted, secretAccessKey: 'PLANTED-but-wrong-secret' }),
    });
    expect(errorOf(verifyEksToken(token, verifierOptions(cluster, in5min)))).toMatch(/SignatureDoesNotMatch/);
  });

  it('refuses a token made for another cluster', async () => {
    const { token } = await plantedToken({ clusterName: 'staging' });
    expect(errorOf(verifyEksToken(token, verifierOptions(cluster, in5min)))).toMatch(/SignatureDoesNotMatch/);
    expect(isVerified(verifyEksToken(token, verifierOptions('staging', in5min)))).toBe(true);
  });

  it('honours the 15-minute lifetime from X-Amz-Date, not X-Amz-Expires=60', async () => {
    const { token } = await plantedToken();
    expect(isVerified(verifyEksToken(token, verifierOptions(cluster, at('2026-03-01T12:14:59Z'))))).toBe(true);
    expect(isVerified(verifyEksToken(token, verifierOptions(cluster, at('2026-03-01T12:15:00Z'))))).toBe(true);
    expect(errorOf(verifyEksToken(token, verifierOptions(cluster, at('2026-03-01T12:15:01Z'))))).toMatch(/expired/);
    expect(errorOf(verifyEksToken(token, verifierOptions(cluster, at('2026-03-01T11:59:59Z'))))).toMatch(/future/);
  });

  it('refuses tampered tokens', async () => {
    const { token } = await plantedToken();
    const url = decode(token);
    const opts = verifierOptions(cluster, in5min);
    const tampered: [string, string, RegExp][] = [
      ['signature changed', url.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`), /SignatureDoesNotMatch/],
      ['date moved', url.replace('X-Amz-Date=20260301T120000Z', 'X-Amz-Date=20260301T120400Z'), /SignatureDoesNotMatch/],
      ['expires changed', url.replace('X-Amz-Expires=60', 'X-Amz-Expires=900'), /SignatureDoesNotMatch/],
      ['action changed', url.replace('Action=GetCallerIdentity', 'Action=GetSessionToken'), /GetCallerIdentity/],
      ['cluster header unsigned', url.replace('X-Amz-SignedHeaders=host%3Bx-k8s-aws-id', 'X-Amz-SignedHeaders=host'), /x-k8s-aws-id/],
      ['host changed', url.replace('sts.eu-west-1.amazonaws.com', 'sts.evil.example.com'), /unexpected host/],
      ['region of host changed', url.replace('sts.eu-west-1.', 'sts.us-east-1.'), /region/],
      ['plain http', url.replace('https://', 'http://'), /scheme/],
      ['extra parameter', `${url}&X-Amz-User-Agent=x`, /not allowed/],
      ['duplicate parameter', url.replace('&Version=', '&Action=GetCallerIdentity&Version='), /more than once/],
      ['session token dropped', url.replace(/&X-Amz-Security-Token=[^&]+/, ''), /session token/],
      ['unknown key', url.replaceAll(planted.accessKeyId, 'AKIAUNKNOWNKEY000000'), /not known/],
    ];
    for (const [what, changed, reason] of tampered) {
      expect(changed, what).not.toBe(url);
      expect(errorOf(verifyEksToken(encode(changed), opts)), what).toMatch(reason);
    }
    expect(errorOf(verifyEksToken(token + '==', opts))).toMatch(/base64url/);
    expect(errorOf(verifyEksToken(token.replace('k8s-aws-v1.', 'k8s-aws-v2.'), opts))).toMatch(/prefix/);
    expect(errorOf(verifyEksToken('k8s-aws-v1.' + 'A'.repeat(5000), opts))).toMatch(/too large/);
  });

  it('plugs into a kube-apiserver as authenticate(token)', async () => {
    const reasons: string[] = [];
    const authenticate = eksTokenAuthenticator({ ...verifierOptions(cluster, in5min), onReject: (r) => reasons.push(r) });
    const { token } = await plantedToken();
    expect(authenticate(token)).toEqual({ user: 'argocd-dr', groups: ['argocd-dr-readers'] });
    expect(authenticate('k8s-aws-v1.bm9wZQ')).toBeUndefined();
    expect(reasons).toHaveLength(1);
  });
});

describe('EksTokenSource', () => {
  function fakeClock(start: string) {
    let t = new Date(start).getTime();
    return { now: () => new Date(t), advance: (ms: number) => { t += ms; } };
  }
  function countingProvider() {
    const calls = { n: 0 };
    return { calls, provider: async () => { calls.n++; return { ...planted }; } };
  }

  it('caches the token and renews it when less than a minute is left', async () => {
    const clock = fakeClock('2026-03-01T12:00:00Z');
    const { calls, provider } = countingProvider();
    const source = new EksTokenSource({ clusterName: cluster, region, credentials: provider, now: clock.now });

    const first = await source.get();
    expect(await source.get()).toBe(first);
    clock.advance(12 * 60_000 + 59_000); // 61 s before the 14-minute mark
    expect(await source.get()).toBe(first);
    expect(calls.n).toBe(1);

    clock.advance(2_000); // 59 s left: renew
    const second = await source.get();
    expect(second).not.toBe(first);
    expect(calls.n).toBe(2);
    expect((await source.current()).expiresAt.toISOString()).toBe('2026-03-01T12:27:01.000Z');
    // Whatever the source hands out is accepted by the API server at that moment.
    expect(isVerified(verifyEksToken(second, verifierOptions(cluster, clock.now)))).toBe(true);
    // ...and the old one would have been too, still: renewal happens before EKS would refuse.
    expect(isVerified(verifyEksToken(first, verifierOptions(cluster, clock.now)))).toBe(true);
  });

  it('takes a configurable margin, shares one signing between concurrent callers and does not cache failures', async () => {
    const clock = fakeClock('2026-03-01T12:00:00Z');
    let fail = true;
    let calls = 0;
    const source = new EksTokenSource({
      clusterName: cluster, region, now: clock.now, renewBeforeMs: 5 * 60_000,
      credentials: async () => {
        calls++;
        if (fail) throw new Error('metadata service unreachable');
        return { ...planted };
      },
    });
    await expect(source.get()).rejects.toThrow(EksTokenError);
    fail = false;
    const [a, b] = await Promise.all([source.get(), source.get()]);
    expect(a).toBe(b);
    expect(calls).toBe(2);
    clock.advance(9 * 60_000 + 1_000); // 4 min 59 s left, under the 5-minute margin
    expect(await source.get()).not.toBe(a);
    source.invalidate();
    clock.advance(1_000);
    await source.get();
    expect(calls).toBe(4);
  });
});
