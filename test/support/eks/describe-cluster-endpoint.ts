import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the EKS control-plane API, as much of it as DescribeCluster needs:
 * `GET /clusters/{name}` in EKS's REST-JSON protocol, with EKS's error shapes. Point the SDK at
 * it with `AWS_ENDPOINT_URL_EKS=<url>`; the SDK signs for service `eks`, which this server records
 * but does not verify (credential checks are the token verifier's job).
 */

export interface LocalEksCluster {
  /** The Kubernetes API URL DescribeCluster reports. */
  endpoint: string;
  /** The cluster CA certificate, PEM text; reported base64-encoded, as EKS does. */
  caPem: string;
  /** Default ACTIVE. */
  status?: 'ACTIVE' | 'CREATING' | 'DELETING' | 'FAILED' | 'UPDATING' | 'PENDING';
  /** Default 1.31. */
  version?: string;
}

export type DescribeClusterFault =
  | { kind: 'AccessDenied'; principalArn?: string }
  | { kind: 'UnrecognizedClient' }
  | { kind: 'Throttling' }
  | { kind: 'InternalError' };

export interface DescribeClusterEndpointOptions {
  clusters: Record<string, LocalEksCluster>;
  /** Account id in ARNs. Default 111122223333. */
  accountId?: string;
  /** Region in ARNs when a request's signature names none. Default eu-west-1. */
  region?: string;
  /** Answer every request (or those for the clusters `fault.clusters` lists) with this error. */
  fault?: DescribeClusterFault & { clusters?: string[] };
}

export interface RecordedEksRequest {
  method: string;
  path: string;
  /** From the Authorization header's credential scope: `<key>/<date>/<region>/<service>/aws4_request`. */
  accessKeyId?: string;
  region?: string;
  service?: string;
  /** The raw Authorization header, so tests can check no secret travels in it. */
  authorization?: string;
}

export interface DescribeClusterEndpoint {
  /** `http://127.0.0.1:<port>`: the value for AWS_ENDPOINT_URL_EKS. */
  url: string;
  requests: RecordedEksRequest[];
  clusters: Record<string, LocalEksCluster>;
  setFault(fault: DescribeClusterEndpointOptions['fault'] | undefined): void;
  close(): Promise<void>;
}

export async function startDescribeClusterEndpoint(options: DescribeClusterEndpointOptions): Promise<DescribeClusterEndpoint> {
  const accountId = options.accountId ?? '111122223333';
  const clusters = options.clusters;
  let fault = options.fault;
  const requests: RecordedEksRequest[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const authorization = req.headers.authorization;
    const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? '');
    const recorded: RecordedEksRequest = { method: req.method ?? '', path: url.pathname };
    if (authorization) recorded.authorization = authorization;
    if (scope) Object.assign(recorded, { accessKeyId: scope[1], region: scope[2], service: scope[3] });
    requests.push(recorded);
    const region = recorded.region ?? options.region ?? 'eu-west-1';

    const match = /^\/clusters\/([^/]+)$/.exec(url.pathname);
    if (req.method !== 'GET' || !match) {
      // What API Gateway-fronted AWS REST APIs answer for a route they do not have.
      return sendError(res, 404, 'UnknownOperationException', `No operation for ${req.method} ${url.pathname}`);
    }
    if (!authorization?.startsWith('AWS4-HMAC-SHA256 ')) {
      return sendError(res, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    const name = decodeURIComponent(match[1]!);
    const clusterArn = `arn:aws:eks:${region}:${accountId}:cluster/${name}`;

    if (fault && (!fault.clusters || fault.clusters.includes(name))) {
      switch (fault.kind) {
        case 'AccessDenied': {
          const principal = fault.principalArn ?? `arn:aws:iam::${accountId}:user/argocd-dr`;
          return sendError(res, 403, 'AccessDeniedException', `User: ${principal} is not authorized to perform: eks:DescribeCluster on resource: ${clusterArn}`);
        }
        case 'UnrecognizedClient':
          return sendError(res, 403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
        case 'Throttling':
          return sendError(res, 429, 'ThrottlingException', 'Rate exceeded');
        case 'InternalError':
          return sendError(res, 500, 'ServerException', 'An internal error occurred.');
      }
    }

    const cluster = Object.hasOwn(clusters, name) ? clusters[name] : undefined;
    if (!cluster) {
      // EKS's own wording and fields for an unknown cluster.
      return sendError(res, 404, 'ResourceNotFoundException', `No cluster found for name: ${name}.`, { clusterName: name });
    }
    const status = cluster.status ?? 'ACTIVE';
    const body = {
      cluster: {
        name,
        arn: clusterArn,
        // restJson1 timestamps are epoch seconds.
        createdAt: 1_700_000_000.123,
        version: cluster.version ?? '1.31',
        // EKS leaves endpoint and CA out while a cluster is being created.
        ...(status === 'CREATING' ? {} : { endpoint: cluster.endpoint, certificateAuthority: { data: Buffer.from(cluster.caPem).toString('base64') } }),
        roleArn: `arn:aws:iam::${accountId}:role/eks-cluster-role`,
        resourcesVpcConfig: {
          subnetIds: ['subnet-0a1b2c3d'],
          securityGroupIds: [],
          clusterSecurityGroupId: 'sg-0a1b2c3d',
          vpcId: 'vpc-0a1b2c3d',
          endpointPublicAccess: true,
          endpointPrivateAccess: true,
          publicAccessCidrs: ['0.0.0.0/0'],
        },
        kubernetesNetworkConfig: { serviceIpv4Cidr: '172.20.0.0/16', ipFamily: 'ipv4' },
        logging: { clusterLogging: [{ types: ['api', 'audit'], enabled: false }] },
        identity: { oidc: { issuer: `https://oidc.eks.${region}.amazonaws.com/id/0123456789ABCDEF` } },
        status,
        platformVersion: 'eks.5',
        tags: {},
        accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
      },
    };
    send(res, 200, body);
  };

  const server = createServer((req, res) => {
    // The SDK sends no body for GET; drain anyway so keep-alive sockets stay usable.
    req.resume();
    req.on('end', () => handle(req, res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    clusters,
    setFault(next) {
      fault = next;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  res.end(text);
}

// restJson1 errors: the type in x-amzn-errortype (the SDK reads it first), the message in the body.
function sendError(res: ServerResponse, status: number, type: string, message: string, extra: Record<string, string> = {}): void {
  send(res, status, { message, ...extra }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.eks/` });
}
