import type { KubeAccess } from './kube-access.js';

/** A Kubernetes API request that failed, explained for the person running the export. */
export class KubeRequestError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

interface Status {
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string };
}

/** What we were doing, for the message: e.g. list applicationsets.argoproj.io in namespace argocd. */
export interface KubeRequest {
  verb: 'get' | 'list';
  resource: string;
  group: string;
  namespace?: string;
  name?: string;
}

/**
 * Turns what @kubernetes/client-node throws (ApiException with a numeric code and the Status as a
 * JSON string body; 401 without a body) or what the network throws into a sentence that names
 * the identity, the resource and what to do.
 */
export function explainKubeError(error: unknown, request: KubeRequest, access: KubeAccess): KubeRequestError {
  const code = (error as { code?: unknown }).code;
  const where = request.namespace ? `in namespace ${request.namespace}` : 'at cluster scope';
  const resource = request.group ? `${request.resource}.${request.group}` : request.resource;
  if (typeof code === 'number') {
    const status = parseStatus((error as { body?: unknown }).body);
    switch (code) {
      case 401:
        return new KubeRequestError(`the API server ${access.server} rejected the credentials of ${access.identity} (401 Unauthorized); ${access.grantHint}`, 401);
      case 403:
        return new KubeRequestError(
          `${access.identity} may not ${request.verb} ${resource} ${where} (403 Forbidden${status.message ? `: ${status.message}` : ''}); `
          + `the Role needs: apiGroups: ["${request.group}"], resources: ["${request.resource}"], verbs: ["get", "list"]${request.namespace ? ` in namespace ${request.namespace}` : ' (a ClusterRole)'} — see deploy/rbac/argocd-dr-reader.yaml`,
          403,
        );
      case 404:
        return new KubeRequestError(
          request.name
            ? `${resource} "${request.name}" not found ${where}`
            : `the API server has no ${resource} ${where} (404): Argo CD is not installed there, or its CRDs are missing — check --namespace and the cluster`,
          404,
        );
      case 410:
        return new KubeRequestError(`the list of ${resource} ${where} expired mid-way (410) more often than retried; the cluster is changing fast — run the export again`, 410);
      default:
        return new KubeRequestError(`${request.verb} ${resource} ${where} failed: HTTP ${code}${status.message ? ` ${status.message}` : ''}${code >= 500 ? '; the API server failed, retry later' : ''}`, code);
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const network = `${cause?.code ?? ''} ${cause?.message ?? ''} ${message}`;
  if (/CERT|certificate|self[- ]signed|SSL|TLS/i.test(network)) {
    return new KubeRequestError(`TLS failure talking to ${access.server}: ${cause?.message ?? message}; check the cluster's certificate authority in the kubeconfig (or the EKS cluster's CA)`);
  }
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH/.test(network)) {
    return new KubeRequestError(`cannot reach the API server ${access.server} (${(cause?.code ?? message).trim()}); check the endpoint, the network path (VPC, private endpoint) and that the cluster is up`);
  }
  return new KubeRequestError(`${request.verb} ${resource} ${where} failed: ${message}`);
}

function parseStatus(body: unknown): Status {
  if (typeof body === 'object' && body !== null) return body as Status;
  if (typeof body !== 'string' || body === '') return {};
  try {
    return JSON.parse(body) as Status;
  } catch {
    return { message: body.slice(0, 200) };
  }
}
