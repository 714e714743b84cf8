import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * What an EKS API server (aws-iam-authenticator's rules) plus STS do with a `k8s-aws-v1.` bearer
 * token, done locally: check the presigned GetCallerIdentity URL's shape, then recompute its SigV4
 * signature with the secret key of the access key it names and the `x-k8s-aws-id` header this
 * cluster would add. Written from the SigV4 specification, independently of @smithy/signature-v4,
 * so a bug in how tokens are made does not cancel out here.
 */

export interface EksIdentity {
  /** The IAM ARN GetCallerIdentity would return. */
  arn: string;
  /** The Kubernetes user name this identity maps to (aws-auth / access entry). */
  user: string;
  groups: string[];
}

export interface VerifyEksTokenOptions {
  /** The cluster the verifying API server belongs to; the value of `x-k8s-aws-id` it signs with. */
  clusterName: string;
  /** Access key id → secret access key: the keys STS knows. */
  secrets: Record<string, string>;
  /** Access key id → who it is and what Kubernetes identity it maps to. */
  identities: Record<string, EksIdentity>;
  /** Access key id → session token that key requires (temporary credentials). */
  sessionTokens?: Record<string, string>;
  /** Clock. Default: the real one. */
  now?: () => Date;
  /** Tolerated skew for X-Amz-Date ahead of `now`, in ms. Default 0: a token from the future is refused. */
  maxClockSkewMs?: number;
}

export interface VerifiedEksToken {
  user: string;
  groups: string[];
  arn: string;
  accessKeyId: string;
}

// aws-iam-authenticator's limits and allowed parameters (pkg/token/token.go).
const PREFIX = 'k8s-aws-v1.';
const MAX_TOKEN_LENGTH = 4096;
const LIFETIME_MS = 15 * 60_000;
const ALLOWED_PARAMETERS = new Set([
  'action',
  'version',
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-security-token',
  'x-amz-signature',
  'x-amz-signedheaders',
]);
const STS_HOST = /^sts\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(amazonaws\.com|amazonaws\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov|csp\.hci\.ic\.gov|cloud\.adc-e\.uk|amazonaws\.eu)$/;
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

/** Verifies a token as EKS would. Error texts never quote the session token or a secret. */
export function verifyEksToken(token: string, options: VerifyEksTokenOptions): VerifiedEksToken | { error: string } {
  const fail = (error: string) => ({ error });
  const now = (options.now ?? (() => new Date()))();

  if (token.length > MAX_TOKEN_LENGTH) return fail('token is too large');
  if (!token.startsWith(PREFIX)) return fail(`token is missing the "${PREFIX}" prefix`);
  const encoded = token.slice(PREFIX.length);
  // Go's base64.RawURLEncoding: URL alphabet, no padding; Buffer would silently skip bad characters.
  if (!/^[A-Za-z0-9_-]*$/.test(encoded) || encoded.length % 4 === 1) return fail('token is not unpadded base64url');
  const rawUrl = Buffer.from(encoded, 'base64url').toString('utf8');

  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return fail('token does not hold a URL');
  }
  if (url.protocol !== 'https:') return fail(`unexpected scheme "${url.protocol}" in the presigned URL`);
  if (url.username || url.password || url.port) return fail('unexpected user info or port in the presigned URL');
  const hostMatch = STS_HOST.exec(url.hostname);
  if (!hostMatch) return fail(`unexpected host "${url.hostname}" in the presigned URL`);
  const hostRegion = hostMatch[1]!;
  if (url.pathname !== '/') return fail('unexpected path in the presigned URL');
  if (rawUrl.includes('#')) return fail('unexpected fragment in the presigned URL');
  if (!rawUrl.includes('?')) return fail('the presigned URL has no query');

  // Parsed by hand from the raw query: URLSearchParams turns '+' into a space, which SigV4 does not.
  const rawQuery = rawUrl.slice(rawUrl.indexOf('?') + 1);
  const params = new Map<string, string>();
  const lower = new Map<string, string>();
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    } catch {
      return fail('malformed query parameter');
    }
    const lowerKey = key.toLowerCase();
    if (!ALLOWED_PARAMETERS.has(lowerKey)) return fail(`query parameter "${key}" is not allowed`);
    if (lower.has(lowerKey)) return fail(`query parameter "${key}" appears more than once`);
    params.set(key, value);
    lower.set(lowerKey, value);
  }

  if (lower.get('action') !== 'GetCallerIdentity') return fail('the presigned URL is not for Action=GetCallerIdentity');
  if (lower.get('version') !== '2011-06-15') return fail('the presigned URL does not name STS API version 2011-06-15');
  if (lower.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256') return fail('the presigned URL is not signed with AWS4-HMAC-SHA256');

  const signedHeaders = (lower.get('x-amz-signedheaders') ?? '').split(';');
  if (!signedHeaders.includes('host')) return fail('the client did not sign the host header');
  if (!signedHeaders.includes('x-k8s-aws-id')) return fail('the client did not sign the x-k8s-aws-id header');
  const unknownHeaders = signedHeaders.filter((h) => h !== 'host' && h !== 'x-k8s-aws-id');
  // Only those two headers reach STS from EKS; any other signed header cannot be reproduced.
  if (unknownHeaders.length > 0) return fail(`the presigned URL signs headers EKS does not send: ${unknownHeaders.join(', ')}`);

  const expiresText = lower.get('x-amz-expires') ?? '';
  const expires = /^\d{1,4}$/.test(expiresText) ? Number(expiresText) : NaN;
  // STS ignores X-Amz-Expires; the authenticator still insists on 0..900 (15 minutes).
  if (!(expires >= 0 && expires <= 900)) return fail(`invalid X-Amz-Expires "${expiresText}" (must be 0..900)`);

  const amzDate = lower.get('x-amz-date') ?? '';
  const dateMatch = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dateMatch) return fail('X-Amz-Date is missing or not in YYYYMMDDTHHMMSSZ form');
  const [, y, mo, d, h, mi, s] = dateMatch.map(Number) as [number, number, number, number, number, number, number];
  const signedAt = Date.UTC(y, mo - 1, d, h, mi, s);
  if (now.getTime() > signedAt + LIFETIME_MS) return fail(`token expired: signed at ${new Date(signedAt).toISOString()}, valid for 15 minutes`);
  if (signedAt > now.getTime() + (options.maxClockSkewMs ?? 0)) {
    return fail(`token is signed in the future (${new Date(signedAt).toISOString()}, now ${now.toISOString()})`);
  }

  const credential = (lower.get('x-amz-credential') ?? '').split('/');
  if (credential.length !== 5) return fail('X-Amz-Credential is not <key>/<date>/<region>/sts/aws4_request');
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = credential as [string, string, string, string, string];
  if (scopeDate !== amzDate.slice(0, 8)) return fail('the credential scope date does not match X-Amz-Date');
  if (scopeRegion !== hostRegion) return fail(`the credential scope region ${scopeRegion} does not match the STS host's region ${hostRegion}`);
  if (scopeService !== 'sts' || terminator !== 'aws4_request') return fail('the credential scope is not for sts/aws4_request');

  const secret = Object.hasOwn(options.secrets, accessKeyId) ? options.secrets[accessKeyId] : undefined;
  if (secret === undefined) return fail(`access key ${accessKeyId} is not known (InvalidClientTokenId)`);
  const requiredSessionToken = options.sessionTokens?.[accessKeyId];
  const givenSessionToken = lower.get('x-amz-security-token');
  if (requiredSessionToken !== undefined && givenSessionToken !== requiredSessionToken) {
    return fail(`the session token for access key ${accessKeyId} is missing or wrong`);
  }

  // The canonical request STS rebuilds: every query parameter but the signature, sorted by encoded
  // name; the host and the cluster id header as EKS sends them; the empty body's hash.
  const canonicalQuery = [...params]
    .filter(([key]) => key !== 'X-Amz-Signature')
    .map(([key, value]) => [sigv4Escape(key), sigv4Escape(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const headerValues: Record<string, string> = { host: url.hostname, 'x-k8s-aws-id': options.clusterName };
  const sortedHeaders = [...signedHeaders].sort();
  const canonicalRequest = [
    'GET',
    '/',
    canonicalQuery,
    sortedHeaders.map((name) => `${name}:${headerValues[name]!.trim().replace(/\s+/g, ' ')}\n`).join(''),
    sortedHeaders.join(';'),
    EMPTY_SHA256,
  ].join('\n');
  const scope = `${scopeDate}/${scopeRegion}/sts/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(scopeDate).digest();
  for (const part of [scopeRegion, 'sts', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const expected = createHmac('sha256', key).update(stringToSign).digest();

  const given = lower.get('x-amz-signature') ?? '';
  if (!/^[0-9a-f]{64}$/.test(given)) return fail('X-Amz-Signature is missing or malformed');
  // A wrong cluster and a wrong secret look the same to STS: the recomputed signature differs.
  if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) {
    return fail('SignatureDoesNotMatch: the signature does not match (wrong secret key, another cluster, or a modified URL)');
  }

  const identity = options.identities[accessKeyId];
  if (!identity) return fail(`access key ${accessKeyId} is valid but maps to no Kubernetes identity`);
  return { user: identity.user, groups: [...identity.groups], arn: identity.arn, accessKeyId };
}

export function isVerified(result: VerifiedEksToken | { error: string }): result is VerifiedEksToken {
  return !('error' in result);
}

/**
 * The `authenticate(token)` hook a local kube-apiserver takes: the identity for a good token,
 * `undefined` (→ 401) otherwise; `onReject` hears why, for test diagnostics.
 */
export function eksTokenAuthenticator(
  options: VerifyEksTokenOptions & { onReject?: (reason: string) => void },
): (token: string) => { user: string; groups: string[] } | undefined {
  return (token) => {
    const result = verifyEksToken(token, options);
    if (isVerified(result)) return { user: result.user, groups: result.groups };
    options.onReject?.(result.error);
    return undefined;
  };
}

function sigv4Escape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
