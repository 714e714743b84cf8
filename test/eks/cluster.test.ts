import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { EKSClient } from '@aws-sdk/client-eks';
import { VersionApi } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  connectEks,
  describeEksCluster,
  EksClusterError,
  EksKubeAccess,
  eksKubeConfig,
  type EksCluster,
} from '../../lambdas/eks/cluster.js';
import { EksTokenSource } from '../../lambdas/eks/token.js';
import { startDescribeClusterEndpoint, type DescribeClusterEndpoint } from '../support/eks/describe-cluster-endpoint.js';
import { assertNoSecrets, planted, plantedProvider, verifierOptions } from '../support/eks/fake-credentials.js';
import { eksTokenAuthenticator } from '../support/eks/token-verifier.js';
import { testTls, type TestTls } from '../../demo/kube/tls.js';

const region = 'eu-west-1';
const AWS_ENV = [
  'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_EKS', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE',
  'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_REGION', 'AWS_DEFAULT_REGION',
  'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
];
const savedEnv = Object.fromEntries(AWS_ENV.map((name) => [name, process.env[name]]));

/** A minimal kube-apiserver: `/version` for callers whose bearer token passes the EKS verifier. */
async function startKubeApi(tls: TestTls, authenticate: (token: string) => { user: string; groups: string[] } | undefined) {
  const seen: { user?: string; token: string }[] = [];
  const server: Server = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const who = authenticate(token);
    seen.push({ token, ...(who ? { user: who.user } : {}) });
    res.setHeader('content-type', 'application/json');
    if (!who) {
      res.writeHead(401).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
      return;
    }
    res.end(JSON.stringify({ major: '1', minor: '31', gitVersion: 'v1.31.4-eks-2d5f260', platform: 'linux/amd64' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

let tls: TestTls;
let endpoint: DescribeClusterEndpoint;
const messages: string[] = [];

async function describeError(name: string, client?: EKSClient): Promise<EksClusterError> {
  const error = await describeEksCluster(name, region, client).then(
    () => { throw new Error(`DescribeCluster of ${name} unexpectedly succeeded`); },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EksClusterError);
  messages.push((error as Error).message);
  return error as EksClusterError;
}

beforeAll(async () => {
  tls = await testTls();
  endpoint = await startDescribeClusterEndpoint({
    clusters: {
      prod: { endpoint: 'https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com', caPem: 'to be replaced', version: '1.31' },
      upgrading: { endpoint: 'https://0123.gr7.eu-west-1.eks.amazonaws.com', caPem: 'ca', status: 'UPDATING' },
      fresh: { endpoint: 'https://4567.gr7.eu-west-1.eks.amazonaws.com', caPem: 'ca', status: 'CREATING' },
    },
  });
  endpoint.clusters.prod!.caPem = tls.caPem;
});

afterAll(async () => {
  await endpoint?.close();
  // Every message any test produced, checked once more as a whole.
  for (const message of messages) assertNoSecrets(message);
});

beforeEach(() => {
  for (const name of AWS_ENV) delete process.env[name];
  // The SDK finds the local endpoint by itself, exactly as it would in a deployed Lambda with the variable set.
  process.env.AWS_ENDPOINT_URL_EKS = endpoint.url;
  process.env.AWS_ACCESS_KEY_ID = planted.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = planted.secretAccessKey;
  process.env.AWS_SESSION_TOKEN = planted.sessionToken;
  // Nothing on this machine may stand in for the planted keys.
  process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  endpoint.requests.length = 0;
  endpoint.setFault(undefined);
});

afterEach(() => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('describeEksCluster through AWS_ENDPOINT_URL_EKS', () => {
  it('returns endpoint, CA, status, version and ARN, signed for eks in the region', async () => {
    const cluster = await describeEksCluster('prod', region);
    expect(cluster).toEqual({
      name: 'prod',
      region,
      arn: 'arn:aws:eks:eu-west-1:111122223333:cluster/prod',
      endpoint: 'https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com',
      caData: Buffer.from(tls.caPem).toString('base64'),
      status: 'ACTIVE',
      version: '1.31',
    });
    expect(endpoint.requests).toHaveLength(1);
    expect(endpoint.requests[0]).toMatchObject({ method: 'GET', path: '/clusters/prod', service: 'eks', region, accessKeyId: planted.accessKeyId });
    assertNoSecrets(endpoint.requests[0]!.authorization ?? '');
  });

  it('names the cluster and region, and how to list clusters, when it does not exist', async () => {
    const error = await describeError('prdo');
    expect(error.code).toBe('NotFound');
    expect(error.message).toContain('EKS cluster "prdo" not found in eu-west-1');
    expect(error.message).toContain('aws eks list-clusters --region eu-west-1');
  });

  it('names the action and the resource ARN when access is denied', async () => {
    endpoint.setFault({ kind: 'AccessDenied', principalArn: 'arn:aws:sts::111122223333:assumed-role/argocd-dr-backup/run-1' });
    const error = await describeError('prod');
    expect(error.code).toBe('AccessDenied');
    expect(error.message).toContain('eks:DescribeCluster');
    expect(error.message).toContain('arn:aws:eks:eu-west-1:111122223333:cluster/prod');
    expect(error.message).toContain('arn:aws:sts::111122223333:assumed-role/argocd-dr-backup/run-1');
  });

  it('refuses clusters whose API is not there, but accepts one that is UPDATING', async () => {
    const error = await describeError('fresh');
    expect(error.code).toBe('NotReady');
    expect(error.message).toMatch(/fresh in eu-west-1 is CREATING, not ACTIVE/);
    expect((await describeEksCluster('upgrading', region)).status).toBe('UPDATING');
  });

  it('says which variables or profile to set when there are no credentials', async () => {
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) delete process.env[name];
    const error = await describeError('prod');
    expect(error.code).toBe('NoCredentials');
    expect(error.message).toMatch(/AWS_ACCESS_KEY_ID.*AWS_SECRET_ACCESS_KEY.*AWS_PROFILE/s);
    expect(endpoint.requests).toHaveLength(0);
  });

  it('tells rejected credentials apart from missing ones', async () => {
    endpoint.setFault({ kind: 'UnrecognizedClient' });
    const error = await describeError('prod');
    expect(error.code).toBe('InvalidCredentials');
    expect(error.message).toMatch(/AWS rejected the credentials/);
  });

  it('reports network failures with the endpoint it tried', async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    process.env.AWS_ENDPOINT_URL_EKS = `http://127.0.0.1:${port}`;
    const client = new EKSClient({ region, maxAttempts: 1 });
    try {
      const error = await describeError('prod', client);
      expect(error.code).toBe('Network');
      expect(error.message).toContain(`http://127.0.0.1:${port}`);
      expect(error.message).toContain('ECONNREFUSED');
    } finally {
      client.destroy();
    }
  });
});

describe('KubeConfig for an EKS cluster', () => {
  it('reaches the API server over TLS with the cluster CA and a token the server verifies', async () => {
    const kube = await startKubeApi(tls, eksTokenAuthenticator(verifierOptions('prod')));
    try {
      endpoint.clusters.prod!.endpoint = kube.url;
      const access = await connectEks({ clusterName: 'prod', region, credentials: plantedProvider });
      expect(access.cluster.endpoint).toBe(kube.url);
      const version = await (await access.kubeConfig()).makeApiClient(VersionApi).getCode();
      expect(version.gitVersion).toBe('v1.31.4-eks-2d5f260');
      expect(kube.seen.at(-1)?.user).toBe('argocd-dr');
      // The words the exporter's 401/403/network messages use.
      expect(access.server).toBe(kube.url);
      expect(access.identity).toContain(`AWS access key ${planted.accessKeyId}`);
      expect(access.grantHint).toContain('aws eks create-access-entry --cluster-name prod --region eu-west-1');

      // A token for another cluster is refused by this one: the 401 reaches the caller.
      const other = new EksTokenSource({ clusterName: 'staging', region, credentials: plantedProvider });
      const refused = eksKubeConfig(access.cluster, await other.get()).makeApiClient(VersionApi).getCode();
      await expect(refused).rejects.toMatchObject({ code: 401 });
    } finally {
      await kube.close();
    }
  });

  it('renews the token for long runs, on kubeConfig() and per request on renewingKubeConfig()', async () => {
    let t = new Date('2026-03-01T12:00:00Z').getTime();
    const now = () => new Date(t);
    const kube = await startKubeApi(tls, eksTokenAuthenticator(verifierOptions('prod', now)));
    try {
      const cluster: EksCluster = {
        name: 'prod', region, arn: 'arn:aws:eks:eu-west-1:111122223333:cluster/prod', endpoint: kube.url,
        caData: Buffer.from(tls.caPem).toString('base64'), status: 'ACTIVE', version: '1.31',
      };
      const access = new EksKubeAccess(cluster, new EksTokenSource({ clusterName: 'prod', region, credentials: plantedProvider, now }));
      const api = access.renewingKubeConfig().makeApiClient(VersionApi);

      await api.getCode();
      const snapshot = await access.kubeConfig();
      t += 10 * 60_000;
      await api.getCode();
      expect(kube.seen[1]!.token).toBe(kube.seen[0]!.token);

      // 13 min 30 s after signing: the source has renewed, the same API client sends the new token.
      t += 3 * 60_000 + 30_000;
      await api.getCode();
      expect(kube.seen[2]!.token).not.toBe(kube.seen[0]!.token);
      expect(kube.seen.every((s) => s.user === 'argocd-dr')).toBe(true);

      // A snapshot keeps its token: past 15 minutes it is refused, a fresh kubeConfig() is not.
      t += 2 * 60_000;
      await expect(snapshot.makeApiClient(VersionApi).getCode()).rejects.toMatchObject({ code: 401 });
      await (await access.kubeConfig()).makeApiClient(VersionApi).getCode();
    } finally {
      await kube.close();
    }
  });
});
