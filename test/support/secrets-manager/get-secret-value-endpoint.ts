import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for AWS Secrets Manager's GetSecretValue (AWS JSON 1.1 protocol: POST / with
 * X-Amz-Target secretsmanager.GetSecretValue). Every request must carry a SigV4 Authorization
 * header this server recomputes with the planted secret key, as the EKS token verifier does for
 * presigned URLs; an unsigned or wrongly signed request gets AWS's own error. Point the SDK at it
 * with AWS_ENDPOINT_URL_SECRETS_MANAGER=<url>.
 */
export interface GetSecretValueEndpointOptions {
  /** Access key id → secret access key. */
  keys: Record<string, string>;
  /** Secret name → SecretString. */
  secrets: Record<string, string>;
  /** Secret names this caller may not read (AccessDeniedException). */
  denied?: string[];
}

export interface GetSecretValueEndpoint {
  url: string;
  requests: { target: string; secretId?: string; status: number; refused?: string; authorization?: string }[];
  close(): Promise<void>;
}

export async function startGetSecretValueEndpoint(options: GetSecretValueEndpointOptions): Promise<GetSecretValueEndpoint> {
  const requests: GetSecretValueEndpoint['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, Buffer.concat(chunks), res));
  });

  function handle(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const target = String(req.headers['x-amz-target'] ?? '');
    const record: GetSecretValueEndpoint['requests'][number] = { target, status: 0, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
    requests.push(record);
    const answer = (status: number, payload: object, type?: string, refused?: string): void => {
      record.status = status;
      if (refused) record.refused = refused;
      const text = JSON.stringify(type ? { __type: type, message: (payload as { message?: string }).message } : payload);
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID(), 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const problem = verifySigV4(req, body, options.keys, 'secretsmanager');
    if (problem) return answer(problem.status, { message: problem.message }, problem.type, problem.message);
    if (req.method !== 'POST' || target !== 'secretsmanager.GetSecretValue') return answer(400, { message: `unsupported operation ${target}` }, 'UnknownOperationException');
    let secretId: string | undefined;
    try {
      secretId = (JSON.parse(body.toString('utf8')) as { SecretId?: string }).SecretId;
    } catch {
      return answer(400, { message: 'body is not JSON' }, 'SerializationException');
    }
    if (secretId !== undefined) record.secretId = secretId;
    if (!secretId) return answer(400, { message: 'SecretId is required' }, 'InvalidParameterException');
    if (options.denied?.includes(secretId)) {
      return answer(400, { message: `User is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secretId}` }, 'AccessDeniedException');
    }
    const secret = Object.hasOwn(options.secrets, secretId) ? options.secrets[secretId] : undefined;
    if (secret === undefined) return answer(400, { message: 'Secrets Manager can\'t find the specified secret.' }, 'ResourceNotFoundException');
    answer(200, {
      ARN: `arn:aws:secretsmanager:eu-west-1:111122223333:secret:${secretId}-AbCdEf`,
      Name: secretId,
      SecretString: secret,
      VersionId: randomUUID(),
      VersionStages: ['AWSCURRENT'],
      CreatedDate: 1_700_000_000,
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Recomputes a SigV4 Authorization header (from the SigV4 specification); a reason when it does not hold. */
function verifySigV4(req: IncomingMessage, body: Buffer, keys: Record<string, string>, service: string): { status: number; type: string; message: string } | undefined {
  const authorization = req.headers.authorization ?? '';
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) return { status: 400, type: 'MissingAuthenticationTokenException', message: 'Request is missing Authentication Token' };
  const [, accessKeyId, date, region, signedService, signedHeaderList, signature] = match as unknown as [string, string, string, string, string, string, string];
  const secret = Object.hasOwn(keys, accessKeyId) ? keys[accessKeyId] : undefined;
  if (secret === undefined) return { status: 400, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  if (signedService !== service) return { status: 400, type: 'InvalidSignatureException', message: `Credential should be scoped to correct service: '${service}'.` };
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date)) return { status: 400, type: 'InvalidSignatureException', message: 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP' };
  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) return { status: 400, type: 'InvalidSignatureException', message: 'host and x-amz-date must be signed' };
  const url = new URL(req.url ?? '/', 'http://localhost');
  const canonicalHeaders = signedHeaders.map((name) => {
    const value = req.headers[name];
    return `${name}:${(Array.isArray(value) ? value.join(',') : value ?? '').trim().replace(/\s+/g, ' ')}\n`;
  }).join('');
  const canonicalQuery = [...url.searchParams].map(([k, v]) => [encode(k), encode(v)]).sort(([a], [b]) => (a! < b! ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const payloadHash = createHash('sha256').update(body).digest('hex');
  const canonicalRequest = [req.method, url.pathname.split('/').map(encode).join('/'), canonicalQuery, canonicalHeaders, signedHeaderList, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const expected = createHmac('sha256', key).update(stringToSign).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    return { status: 400, type: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided.' };
  }
  return undefined;
}

function encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
