/**
 * Argo CD's repository credentials, as exported: `repository` Secrets (one repo, optionally scoped to a project)
 * and `repo-creds` Secrets (credential templates for every repo under a URL prefix), matched to a repoURL the way
 * Argo CD's util/db does it (getRepositorySecret, getRepositoryCredentialIndex, enrichCredsToRepo).
 *
 * The values are secrets: nothing here logs them, and callers must never write a RepoCredentials anywhere.
 */
import type { GitCredentials } from '../git/repo-url.js';
import { normalizeRepoUrl, sameRepoUrl } from './repo-url.js';

/** Every field Argo CD reads from a repository or repo-creds Secret (util/db/repository_secrets.go). */
export const SECRET_FIELDS = [
  'url', 'project', 'type', 'name', 'username', 'password', 'bearerToken', 'sshPrivateKey', 'tlsClientCertData',
  'tlsClientCertKey', 'insecure', 'insecureIgnoreHostKey', 'enableLfs', 'enableOCI', 'proxy', 'noProxy', 'githubAppID',
  'githubAppInstallationID', 'githubAppPrivateKey', 'githubAppEnterpriseBaseUrl', 'gcpServiceAccountKey',
  'forceHttpBasicAuth', 'useAzureWorkloadIdentity',
] as const;

export type SecretField = (typeof SECRET_FIELDS)[number];

/** One exported Secret's fields, as strings; absent fields are undefined. */
export type RepoSecretFields = { [field in SecretField]?: string };

export interface RepoCredentials extends RepoSecretFields {
  /** `repository` (one repo) or `repo-creds` (a credential template). */
  secretType: 'repository' | 'repo-creds';
  /** The Secret's metadata.name, for messages ("credentials from secret private-repo"). */
  secretName: string;
  /** When a repository Secret without credentials took them from a template: that template's name. */
  inheritedFrom?: string;
}

/** The fields Argo CD's Repository.CopyCredentialsFrom takes from a template when the repository has none. */
const CREDENTIAL_FIELDS: readonly SecretField[] = [
  'username', 'password', 'bearerToken', 'sshPrivateKey', 'tlsClientCertData', 'tlsClientCertKey', 'githubAppPrivateKey',
  'githubAppID', 'githubAppInstallationID', 'githubAppEnterpriseBaseUrl', 'gcpServiceAccountKey', 'proxy', 'noProxy',
  'forceHttpBasicAuth', 'useAzureWorkloadIdentity',
];

const SECRET_TYPE_LABEL = 'argocd.argoproj.io/secret-type';

/**
 * The repository and repo-creds Secrets of an export (parseExportYaml), in file order (Argo CD lists them from its informer; the
 * export keeps them sorted by name). Only Secrets in Argo CD's own namespace count: the export leaves that namespace
 * out, and Argo CD never reads repository Secrets elsewhere.
 */
export function repoCredentialsOf(objects: readonly Record<string, unknown>[], argocdNamespace = 'argocd'): RepoCredentials[] {
  const found: RepoCredentials[] = [];
  for (const object of objects) {
    if (object.kind !== 'Secret') continue;
    const metadata = isRecord(object.metadata) ? object.metadata : {};
    const labels = isRecord(metadata.labels) ? metadata.labels : {};
    const secretType = labels[SECRET_TYPE_LABEL];
    if (secretType !== 'repository' && secretType !== 'repo-creds') continue;
    if (metadata.namespace !== undefined && metadata.namespace !== argocdNamespace) continue;
    const fields: RepoSecretFields = {};
    const data = isRecord(object.data) ? object.data : {};
    const stringData = isRecord(object.stringData) ? object.stringData : {};
    for (const field of SECRET_FIELDS) {
      // stringData wins, as the API server merges it over data on write.
      const text = typeof stringData[field] === 'string' ? stringData[field] : typeof data[field] === 'string' ? Buffer.from(data[field], 'base64').toString('utf8') : undefined;
      if (text !== undefined) fields[field] = text;
    }
    found.push({ ...fields, secretType, secretName: typeof metadata.name === 'string' ? metadata.name : '(unnamed)' });
  }
  return found;
}

/**
 * The credentials Argo CD would use for `repoURL` in an Application of `project`:
 * 1. a repository Secret with the same URL (git.SameURL) scoped to that project; else the first unscoped one
 *    (a Secret scoped to another project is never used);
 * 2. a repository Secret with no credentials of its own takes them from the template below;
 * 3. otherwise the repo-creds template whose normalised URL is the longest prefix of the normalised repoURL (the
 *    first one listed when two are equally long).
 */
export function matchRepoCredentials(all: readonly RepoCredentials[], repoURL: string, project = ''): RepoCredentials | undefined {
  const repository = matchRepositorySecret(all, repoURL, project);
  if (repository && hasCredentials(repository)) return repository;
  const template = matchCredentialTemplate(all, repoURL);
  if (!repository) return template;
  if (!template) return repository;
  const merged: RepoCredentials = { ...repository, inheritedFrom: template.secretName };
  for (const field of CREDENTIAL_FIELDS) if (!merged[field] && template[field]) merged[field] = template[field];
  return merged;
}

function matchRepositorySecret(all: readonly RepoCredentials[], repoURL: string, project: string): RepoCredentials | undefined {
  let fallback: RepoCredentials | undefined;
  for (const secret of all) {
    if (secret.secretType !== 'repository' || !sameRepoUrl(secret.url ?? '', repoURL)) continue;
    const scope = secret.project ?? '';
    if (scope === project) return secret;
    if (scope === '') fallback ??= secret;
  }
  return fallback;
}

function matchCredentialTemplate(all: readonly RepoCredentials[], repoURL: string): RepoCredentials | undefined {
  const normalized = normalizeRepoUrl(repoURL);
  let best: RepoCredentials | undefined;
  let longest = 0;
  for (const secret of all) {
    if (secret.secretType !== 'repo-creds') continue;
    const prefix = normalizeRepoUrl(secret.url ?? '');
    if (prefix.length > longest && normalized.startsWith(prefix)) {
      best = secret;
      longest = prefix.length;
    }
  }
  return best;
}

/** Argo CD's Repository.HasCredentials. */
function hasCredentials(secret: RepoSecretFields): boolean {
  return Boolean(secret.username || secret.password || secret.bearerToken || secret.sshPrivateKey || secret.tlsClientCertData
    || secret.githubAppPrivateKey || secret.useAzureWorkloadIdentity === 'true');
}

/**
 * What the mirror's transports take of them: every field they understand, under the same name, with Argo CD's
 * string flags (`"true"`) as booleans, chosen in Argo CD's order (Repository.GetGitCreds). `insecure` and `insecureIgnoreHostKey` are one flag, set by
 * either, and count only in a repository Secret: Argo CD never copies them from a template (a host key marked
 * @revoked is refused all the same). Undefined when there is nothing to send.
 */
export function toGitCredentials(credentials: RepoCredentials | undefined): GitCredentials | undefined {
  if (!credentials) return undefined;
  const git: GitCredentials = {};
  // Argo CD's Repository.GetGitCreds: HTTPS credentials when a password or bearer token is set (a user name alone
  // sends nothing), else a GitHub App when its id, installation id and key are all set.
  if (credentials.password) Object.assign(git, { username: credentials.username ?? '', password: credentials.password });
  for (const field of ['bearerToken', 'sshPrivateKey', 'tlsClientCertData', 'tlsClientCertKey', 'proxy', 'noProxy'] as const) {
    if (credentials[field]) git[field] = credentials[field];
  }
  if (!credentials.password && !credentials.bearerToken && credentials.githubAppID && credentials.githubAppInstallationID && credentials.githubAppPrivateKey) {
    for (const field of ['githubAppID', 'githubAppInstallationID', 'githubAppPrivateKey', 'githubAppEnterpriseBaseUrl'] as const) {
      if (credentials[field]) git[field] = credentials[field];
    }
  }
  // One flag to Argo CD (Repository.IsInsecure: InsecureIgnoreHostKey || Insecure, given to SSH and HTTPS alike).
  if (credentials.secretType === 'repository' && (parseBool(credentials.insecure) || parseBool(credentials.insecureIgnoreHostKey))) {
    Object.assign(git, { insecure: true, insecureIgnoreHostKey: true });
  }
  return Object.keys(git).length > 0 ? git : undefined;
}

/** Go's strconv.ParseBool, which Argo CD reads the flags with; anything else is false. */
function parseBool(value: string | undefined): boolean {
  return value !== undefined && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value);
}

/** Every secret value the credentials hold, for redacting them from messages. */
export function secretValues(credentials: RepoCredentials | undefined): string[] {
  if (!credentials) return [];
  return (['password', 'bearerToken', 'sshPrivateKey', 'tlsClientCertKey', 'githubAppPrivateKey', 'gcpServiceAccountKey'] as const)
    .map((field) => credentials[field])
    .filter((value): value is string => typeof value === 'string' && value !== '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
