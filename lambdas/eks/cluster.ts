import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { KubeConfig, type User } from '@kubernetes/client-node';
import { redactSecrets } from '../shared/redact.js';
import { EksTokenSource, type EksTokenSourceOptions } from './token.js';

// client-node 2.0 does not export its Authenticator interface; take it from addAuthenticator.
type Authenticator = Parameters<KubeConfig['addAuthenticator']>[0];

/** What a Kubernetes client needs to reach an EKS cluster's API server. */
export interface EksCluster {
  name: string;
  region: string;
  arn: string;
  /** `https://<id>.<hash>.<region>.eks.amazonaws.com` */
  endpoint: string;
  /** The cluster CA as base64 of its PEM text: the form of a kubeconfig's certificate-authority-data. */
  caData: string;
  /** ACTIVE or UPDATING (the API server keeps serving during an update). */
  status: string;
  /** Kubernetes minor version, e.g. `1.31`. */
  version: string;
}

export type EksClusterErrorCode = 'NotFound' | 'AccessDenied' | 'NotReady' | 'NoCredentials' | 'InvalidCredentials' | 'Network' | 'Unknown';

/** A DescribeCluster failure, with a message that says what to do. Never quotes secrets. */
export class EksClusterError extends Error {
  override readonly name = 'EksClusterError';
  constructor(
    readonly code: EksClusterErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

// An UPDATING cluster still serves its API (version and config updates are rolling), so a
// scheduled backup must not skip it; CREATING, DELETING, FAILED and PENDING ones have no usable API.
const USABLE_STATUSES = new Set(['ACTIVE', 'UPDATING']);

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  'TimeoutError', 'RequestTimeout', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET',
]);

/**
 * Looks an EKS cluster up with DescribeCluster. The client honours AWS_ENDPOINT_URL_EKS (and
 * AWS_ENDPOINT_URL) by itself, which is how the tests point it at a local endpoint.
 */
export async function describeEksCluster(name: string, region: string, client?: EKSClient): Promise<EksCluster> {
  const eks = client ?? new EKSClient({ region });
  try {
    let cluster;
    try {
      ({ cluster } = await eks.send(new DescribeClusterCommand({ name })));
    } catch (error) {
      throw await explainDescribeError(error, name, region, eks);
    }
    if (!cluster) throw new EksClusterError('Unknown', `DescribeCluster for ${name} in ${region} returned no cluster`);
    const status = cluster.status ?? 'UNKNOWN';
    if (!USABLE_STATUSES.has(status)) {
      throw new EksClusterError(
        'NotReady',
        `EKS cluster ${name} in ${region} is ${status}, not ACTIVE: its Kubernetes API cannot be used` +
          (status === 'CREATING' ? ' yet; retry when creation has finished' : ''),
      );
    }
    const endpoint = cluster.endpoint;
    const caData = cluster.certificateAuthority?.data;
    if (!endpoint || !caData) {
      throw new EksClusterError('NotReady', `EKS cluster ${name} in ${region} reports no API endpoint or certificate authority yet`);
    }
    return {
      name: cluster.name ?? name,
      region,
      arn: cluster.arn ?? `arn:${partitionOf(region)}:eks:${region}:<account-id>:cluster/${name}`,
      endpoint,
      caData,
      status,
      version: cluster.version ?? '',
    };
  } finally {
    // Only a client made here is ours to close.
    if (!client) eks.destroy();
  }
}

async function explainDescribeError(error: unknown, name: string, region: string, eks: EKSClient): Promise<EksClusterError> {
  const err = (error ?? {}) as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const errorName = err.name ?? 'Error';
  const awsMessage = redact(err.message ?? String(error));
  const options = { cause: error };
  const where = `in ${region}`;

  if (errorName === 'ResourceNotFoundException' || errorName === 'NotFoundException') {
    return new EksClusterError(
      'NotFound',
      `EKS cluster "${name}" not found ${where} (${awsMessage}). List the clusters this account has there with ` +
        `\`aws eks list-clusters --region ${region}\`, and check --region and the AWS account of your credentials.`,
      options,
    );
  }
  if (errorName === 'AccessDeniedException' || (err.$metadata?.httpStatusCode === 403 && errorName === 'Unknown')) {
    const resource = /on resource: (arn:[^\s"]+)/.exec(awsMessage)?.[1] ?? (await clusterArnGuess(eks, name, region));
    const principal = /User: (arn:[^\s"]+)/.exec(awsMessage)?.[1];
    return new EksClusterError(
      'AccessDenied',
      `${principal ?? 'The current AWS identity'} may not call eks:DescribeCluster on ${resource}. Allow the action ` +
        `"eks:DescribeCluster" on resource "${resource}" in its IAM policy. (AWS said: ${awsMessage})`,
      options,
    );
  }
  if (errorName === 'CredentialsProviderError') {
    return new EksClusterError(
      'NoCredentials',
      `No AWS credentials found to call eks:DescribeCluster for ${name} ${where} (${awsMessage}). Set AWS_ACCESS_KEY_ID and ` +
        'AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary credentials), or AWS_PROFILE naming a profile in ' +
        '~/.aws/config or ~/.aws/credentials, or run with a role (Lambda execution role, IRSA via AWS_ROLE_ARN and ' +
        'AWS_WEB_IDENTITY_TOKEN_FILE, EKS Pod Identity, ECS task role, EC2 instance profile).',
      options,
    );
  }
  if (['UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException', 'SignatureDoesNotMatch', 'ExpiredTokenException', 'ExpiredToken'].includes(errorName)) {
    return new EksClusterError(
      'InvalidCredentials',
      `AWS rejected the credentials used for eks:DescribeCluster ${where} (${errorName}: ${awsMessage}). Check that the ` +
        'access key is active, the secret key matches it, and temporary credentials (AWS_SESSION_TOKEN) have not expired.',
      options,
    );
  }
  const code = err.code ?? (NETWORK_CODES.has(errorName) ? errorName : undefined);
  if ((code && NETWORK_CODES.has(code)) || (!err.$metadata?.httpStatusCode && /socket|connect|network|timed? ?out/i.test(awsMessage))) {
    return new EksClusterError(
      'Network',
      `Could not reach the EKS API at ${eksEndpointDescription(region)} to describe ${name} (${code ?? errorName}: ${awsMessage}). ` +
        'Check network access to it (proxy, VPC endpoint, DNS) and AWS_ENDPOINT_URL_EKS if set.',
      options,
    );
  }
  const status = err.$metadata?.httpStatusCode;
  return new EksClusterError(
    'Unknown',
    `DescribeCluster for ${name} ${where} failed: ${errorName}${status ? ` (HTTP ${status})` : ''}: ${awsMessage}`,
    options,
  );
}

async function clusterArnGuess(eks: EKSClient, name: string, region: string): Promise<string> {
  let account = '<account-id>';
  try {
    // Most providers report the account; if not, the ARN still shows the shape to allow.
    const credentials = await eks.config.credentials();
    if (credentials.accountId) account = credentials.accountId;
  } catch {
    // No credentials: keep the placeholder.
  }
  return `arn:${partitionOf(region)}:eks:${region}:${account}:cluster/${name}`;
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

function eksEndpointDescription(region: string): string {
  const configured = process.env.AWS_ENDPOINT_URL_EKS || process.env.AWS_ENDPOINT_URL;
  if (!configured) return `https://eks.${region}.amazonaws.com`;
  // An endpoint URL could carry user info; show only where it points.
  try {
    const url = new URL(configured);
    return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname} (from AWS_ENDPOINT_URL${process.env.AWS_ENDPOINT_URL_EKS ? '_EKS' : ''})`;
  } catch {
    return 'the endpoint set in AWS_ENDPOINT_URL_EKS';
  }
}

// Last line of defence: AWS error texts never quote secrets, but a proxy's or a provider's might.
function redact(text: string): string {
  return redactSecrets(text, [process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_SESSION_TOKEN]);
}

export interface EksKubeConfigOptions {
  /** Context namespace. */
  namespace?: string;
}

/**
 * A KubeConfig for the cluster that sends `token` as its bearer token. Names follow
 * `aws eks update-kubeconfig`: cluster, user and context are all the cluster ARN.
 */
export function eksKubeConfig(cluster: EksCluster, token: string, options: EksKubeConfigOptions = {}): KubeConfig {
  return buildKubeConfig(cluster, { name: cluster.arn, token }, options);
}

/**
 * The Kubernetes side of one EKS cluster for a run of any length: every KubeConfig it hands out
 * authenticates with a token that is not about to expire. Its `server`, `identity` and `grantHint`
 * are the words error messages need (the shape of lambdas/argocd/kube-access.ts's KubeAccess).
 */
export class EksKubeAccess {
  constructor(
    readonly cluster: EksCluster,
    readonly tokens: EksTokenSource,
  ) {}

  get server(): string {
    return this.cluster.endpoint;
  }

  /** The IAM side of the caller; the principal ARN itself would need an STS call. */
  get identity(): string {
    const signer = this.tokens.lastSigner;
    if (!signer) return `the IAM principal of the current AWS credentials (EKS cluster ${this.cluster.arn})`;
    return `the IAM principal of AWS access key ${signer.accessKeyId}${signer.accountId ? ` in account ${signer.accountId}` : ''} (EKS cluster ${this.cluster.arn})`;
  }

  get grantHint(): string {
    return (
      `give that IAM principal Kubernetes access to ${this.cluster.name}: an EKS access entry ` +
      `(aws eks create-access-entry --cluster-name ${this.cluster.name} --region ${this.cluster.region} --principal-arn <role-or-user-arn> ` +
      '--kubernetes-groups argocd-dr-readers) or a mapRoles/mapUsers entry in the aws-auth ConfigMap, with the group bound ' +
      'by deploy/rbac/argocd-dr-reader.yaml'
    );
  }

  /** A KubeConfig carrying the token valid now; ask again for later work. */
  async kubeConfig(options: EksKubeConfigOptions = {}): Promise<KubeConfig> {
    return eksKubeConfig(this.cluster, await this.tokens.get(), options);
  }

  /**
   * One KubeConfig whose every request asks the token source, so API clients made from it once
   * keep working across token renewals (client-node applies authenticators per request).
   */
  renewingKubeConfig(options: EksKubeConfigOptions = {}): KubeConfig {
    const userName = `${this.cluster.arn}#renewing-token`;
    const tokens = this.tokens;
    const authenticator: Authenticator = {
      isAuthProvider: (user: User) => user.name === userName,
      async applyAuthentication(_user, opts) {
        opts.headers = { ...opts.headers, Authorization: `Bearer ${await tokens.get()}` };
      },
    };
    // No `token` on the user: client-node would let a static token override the authenticator.
    const kc = buildKubeConfig(this.cluster, { name: userName }, options);
    kc.addAuthenticator(authenticator);
    return kc;
  }
}

export interface ConnectEksOptions extends Omit<EksTokenSourceOptions, 'clusterName' | 'region'> {
  clusterName: string;
  region: string;
  /** A ready EKS client (tests, custom retry settings); default one for `region`. */
  eksClient?: EKSClient;
}

/** DescribeCluster, then a token source for it: everything `export --eks-cluster` needs. */
export async function connectEks(options: ConnectEksOptions): Promise<EksKubeAccess> {
  const { eksClient, ...tokenOptions } = options;
  const cluster = await describeEksCluster(options.clusterName, options.region, eksClient);
  return new EksKubeAccess(cluster, new EksTokenSource(tokenOptions));
}

function buildKubeConfig(cluster: EksCluster, user: User, options: EksKubeConfigOptions): KubeConfig {
  const kc = new KubeConfig();
  // loadFromOptions takes the objects as they are (no kubeconfig-file field names, no defaults).
  kc.loadFromOptions({
    clusters: [{ name: cluster.arn, server: cluster.endpoint, caData: cluster.caData, skipTLSVerify: false }],
    users: [user],
    contexts: [{ name: cluster.arn, cluster: cluster.arn, user: user.name, ...(options.namespace ? { namespace: options.namespace } : {}) }],
    currentContext: cluster.arn,
  });
  return kc;
}
