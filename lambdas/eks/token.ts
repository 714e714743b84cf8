import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * Bearer tokens for the EKS API server, made in-process: the format `aws eks get-token` and
 * aws-iam-authenticator produce. The token is a presigned STS GetCallerIdentity URL; EKS calls
 * it with `x-k8s-aws-id: <cluster>` and maps the identity STS returns to Kubernetes users.
 */

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** The header that binds a token to one cluster; EKS adds it when it forwards the URL to STS. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** STS accepts the presigned URL for 15 minutes after X-Amz-Date, whatever X-Amz-Expires says. */
export const EKS_TOKEN_LIFETIME_MS = 15 * 60_000;
// One minute short of the real lifetime, as awscli and aws-iam-authenticator report it.
const REPORTED_LIFETIME_MS = 14 * 60_000;
// Ignored by STS, but authenticators up to 0.3.0 required 0..60, so every client sends 60.
const PRESIGN_EXPIRES_SECONDS = 60;
const STS_VERSION = '2011-06-15';
// botocore's order (operation parameters, then auth parameters, signature last), so a token made
// in the same second is byte-identical to `aws eks get-token`'s.
const QUERY_ORDER = [
  'Action',
  'Version',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Security-Token',
  'X-Amz-Signature',
] as const;

export interface CreateEksTokenOptions {
  /** The EKS cluster name (for local clusters on Outposts, the cluster id). */
  clusterName: string;
  /** The cluster's region; the token is signed for that region's STS endpoint. */
  region: string;
  /** Default: the Node.js provider chain (env, SSO, profile, web identity, ECS/EC2 roles). */
  credentials?: AwsCredentialIdentityProvider;
  /** Clock, for tests. */
  now?: () => Date;
}

export interface EksToken {
  token: string;
  /** Signing time + 14 minutes, or earlier if the signing credentials expire first. */
  expiresAt: Date;
  /** Who signed, for 401 messages: the access key id (not a secret; the token carries it) and account if known. */
  signer: { accessKeyId: string; accountId?: string };
}

/** Thrown when no token can be made: bad input or no usable credentials. Never quotes secrets. */
export class EksTokenError extends Error {
  override readonly name = 'EksTokenError';
}

/** Makes one EKS bearer token. */
export async function createEksToken(options: CreateEksTokenOptions): Promise<EksToken> {
  const { clusterName, region } = options;
  validateClusterName(clusterName);
  const host = stsHostname(region);
  const credentials = await resolveCredentials(options.credentials ?? fromNodeProviderChain(), clusterName);
  // SigV4 dates have whole seconds; expiry is counted from the date STS will see.
  const signingDate = new Date(Math.floor((options.now ?? (() => new Date()))().getTime() / 1000) * 1000);

  const signer = new SignatureV4({
    service: 'sts',
    region,
    credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname: host,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: STS_VERSION },
    headers: { host, [CLUSTER_ID_HEADER]: clusterName },
  });
  const presigned = await signer.presign(request, { expiresIn: PRESIGN_EXPIRES_SECONDS, signingDate });

  const query = presigned.query as Record<string, string | string[] | null>;
  // A signer that left the cluster header out would make tokens that work on any cluster: refuse.
  if (query['X-Amz-SignedHeaders'] !== `host;${CLUSTER_ID_HEADER}`) {
    throw new EksTokenError(`unexpected X-Amz-SignedHeaders from the SigV4 signer: ${String(query['X-Amz-SignedHeaders'])}`);
  }
  const unknown = Object.keys(query).filter((key) => !(QUERY_ORDER as readonly string[]).includes(key));
  if (unknown.length > 0) throw new EksTokenError(`unexpected presigned query parameters: ${unknown.join(', ')}`);
  const parts: string[] = [];
  for (const key of QUERY_ORDER) {
    const value = query[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw new EksTokenError(`presigned query parameter ${key} has several values`);
    parts.push(`${key}=${uriEscape(value)}`);
  }
  const url = `https://${host}/?${parts.join('&')}`;

  let expiresAt = signingDate.getTime() + REPORTED_LIFETIME_MS;
  // STS rejects a presigned URL once its session credentials have expired, so never claim longer.
  if (credentials.expiration) expiresAt = Math.min(expiresAt, credentials.expiration.getTime());
  return {
    token: EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url'),
    expiresAt: new Date(expiresAt),
    signer: { accessKeyId: credentials.accessKeyId, ...(credentials.accountId ? { accountId: credentials.accountId } : {}) },
  };
}

export interface EksTokenSourceOptions extends CreateEksTokenOptions {
  /** Renew when fewer than this many milliseconds of validity remain. Default 60 s. */
  renewBeforeMs?: number;
}

/**
 * Hands out a cached token and makes a new one before the cached one runs out, so a long export
 * never sends a token that expires in flight. Concurrent callers share one signing.
 */
export class EksTokenSource {
  readonly clusterName: string;
  readonly region: string;
  private readonly options: CreateEksTokenOptions;
  private readonly renewBeforeMs: number;
  private readonly now: () => Date;
  private cached: EksToken | undefined;
  private pending: Promise<EksToken> | undefined;

  constructor(options: EksTokenSourceOptions) {
    const { renewBeforeMs = 60_000, ...rest } = options;
    this.clusterName = options.clusterName;
    this.region = options.region;
    this.renewBeforeMs = renewBeforeMs;
    this.now = options.now ?? (() => new Date());
    // One provider for the source's lifetime: the chain memoizes and refreshes credentials itself.
    this.options = { ...rest, credentials: options.credentials ?? fromNodeProviderChain() };
  }

  /** The bearer token to send now. */
  async get(): Promise<string> {
    return (await this.current()).token;
  }

  /** The token to send now and when it stops being handed out. */
  async current(): Promise<EksToken> {
    const cached = this.cached;
    if (cached && cached.expiresAt.getTime() - this.now().getTime() > this.renewBeforeMs) return cached;
    if (!this.pending) {
      this.pending = createEksToken(this.options).then(
        (made) => {
          this.cached = made;
          this.pending = undefined;
          return made;
        },
        (error: unknown) => {
          // A failure is not cached: the next call tries again.
          this.pending = undefined;
          throw error;
        },
      );
    }
    return this.pending;
  }

  /** The signer of the last token made, once one has been made. */
  get lastSigner(): EksToken['signer'] | undefined {
    return this.cached?.signer;
  }

  /** Drops the cached token, e.g. after the API server answered 401 to it. */
  invalidate(): void {
    this.cached = undefined;
  }
}

/**
 * The regional STS host for a region, in its partition's DNS domain (what awscli and
 * aws-iam-authenticator use; EKS accepts only STS hosts it knows).
 */
export function stsHostname(region: string): string {
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new EksTokenError(`"${region}" is not an AWS region name (expected e.g. eu-west-1)`);
  }
  const suffixes: [string, string][] = [
    ['cn-', 'amazonaws.com.cn'],
    ['us-isob-', 'sc2s.sgov.gov'],
    ['us-isof-', 'csp.hci.ic.gov'],
    ['us-iso-', 'c2s.ic.gov'],
    ['eu-isoe-', 'cloud.adc-e.uk'],
    ['eusc-', 'amazonaws.eu'],
  ];
  const suffix = suffixes.find(([prefix]) => region.startsWith(prefix))?.[1] ?? 'amazonaws.com';
  return `sts.${region}.${suffix}`;
}

function validateClusterName(name: string): void {
  // EKS's own name rule; it also keeps CR/LF and other header-breaking bytes out of the signed header.
  if (!/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/.test(name)) {
    throw new EksTokenError(`"${name}" is not a valid EKS cluster name`);
  }
}

async function resolveCredentials(provider: AwsCredentialIdentityProvider, clusterName: string): Promise<AwsCredentialIdentity> {
  let credentials: AwsCredentialIdentity;
  try {
    credentials = await provider();
  } catch (error) {
    // Provider messages name the sources tried, not secret values; keep only the message.
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new EksTokenError(
      `no AWS credentials to sign an EKS token for cluster ${clusterName} (${detail}). Set AWS_ACCESS_KEY_ID and ` +
        'AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary credentials), or AWS_PROFILE, or run with a role ' +
        '(Lambda execution role, IRSA, EKS Pod Identity, ECS task role, EC2 instance profile).',
      { cause: error },
    );
  }
  if (!credentials?.accessKeyId || !credentials.secretAccessKey) {
    throw new EksTokenError(`the credentials provider returned no access key for signing an EKS token for cluster ${clusterName}`);
  }
  return credentials;
}

// RFC 3986 unreserved characters stay; everything else is %XX, as SigV4 and botocore encode.
function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
