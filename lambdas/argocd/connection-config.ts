import { parseAllDocuments } from 'yaml';
import type { GitConnectionContext } from '../git/credentials.js';

/**
 * What Argo CD's repo-server knows about Git hosts beyond each repository's secret, read back from
 * an export: SSH host keys from argocd-ssh-known-hosts-cm (`ssh_known_hosts`) and extra TLS CAs from
 * argocd-tls-certs-cm (one key per host name, PEM value). The backup connects as Argo CD would.
 */
export const KNOWN_HOSTS_CONFIGMAP = 'argocd-ssh-known-hosts-cm';
export const TLS_CERTS_CONFIGMAP = 'argocd-tls-certs-cm';

export class ConnectionConfigError extends Error {}

/** The connection context in an export.yaml (a YAML stream of the exported objects). */
export function connectionContextFromExport(exportYaml: string, namespace?: string): GitConnectionContext {
  const objects: unknown[] = [];
  for (const document of parseAllDocuments(exportYaml)) {
    if (document.errors.length > 0) {
      throw new ConnectionConfigError(`export.yaml is not valid YAML (${document.errors[0]!.message.split('\n')[0]}); take a new export`);
    }
    objects.push(document.toJS());
  }
  return connectionContextFromObjects(objects, namespace);
}

/** The connection context from exported objects; `namespace` picks Argo CD's when the export holds several. */
export function connectionContextFromObjects(objects: readonly unknown[], namespace?: string): GitConnectionContext {
  const context: { knownHosts?: string; tlsCerts?: Record<string, string> } = {};
  const knownHosts = configMapData(objects, KNOWN_HOSTS_CONFIGMAP, namespace);
  if (typeof knownHosts?.ssh_known_hosts === 'string') context.knownHosts = knownHosts.ssh_known_hosts;
  const tlsCerts = configMapData(objects, TLS_CERTS_CONFIGMAP, namespace);
  if (tlsCerts) {
    // Argo CD matches the host name without port, case-insensitively.
    const entries = Object.entries(tlsCerts).filter(([, pem]) => typeof pem === 'string' && pem.includes('-----BEGIN CERTIFICATE-----'));
    if (entries.length > 0) context.tlsCerts = Object.fromEntries(entries.map(([host, pem]) => [host.toLowerCase(), pem as string]));
  }
  return context;
}

/**
 * Several installations' contexts as one: every known host of each, and for a host the CAs of each. Used for
 * repositories no single cluster speaks for (extra repos): any installation's trust is accepted.
 */
export function mergeConnectionContexts(contexts: readonly GitConnectionContext[]): GitConnectionContext {
  if (contexts.length === 1) return contexts[0]!;
  const knownHosts = contexts.map((context) => context.knownHosts?.trimEnd()).filter((text): text is string => Boolean(text));
  const tlsCerts: Record<string, string> = {};
  for (const context of contexts) {
    for (const [host, pem] of Object.entries(context.tlsCerts ?? {})) tlsCerts[host] = tlsCerts[host] ? `${tlsCerts[host].trimEnd()}\n${pem}` : pem;
  }
  return { ...(knownHosts.length > 0 ? { knownHosts: `${knownHosts.join('\n')}\n` } : {}), ...(Object.keys(tlsCerts).length > 0 ? { tlsCerts } : {}) };
}

function configMapData(objects: readonly unknown[], name: string, namespace: string | undefined): Record<string, unknown> | undefined {
  for (const object of objects) {
    if (typeof object !== 'object' || object === null) continue;
    const { kind, metadata, data } = object as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; data?: unknown };
    if (kind !== 'ConfigMap' || metadata?.name !== name) continue;
    // An export leaves Argo CD's own namespace out of its objects: no namespace is that one.
    if (namespace !== undefined && metadata.namespace !== undefined && metadata.namespace !== namespace) continue;
    return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  }
  return undefined;
}
