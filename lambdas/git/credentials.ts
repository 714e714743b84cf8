/**
 * What it takes to reach a Git repository beyond its URL: credentials as Argo CD keeps them in a
 * repository (or repo-creds) Secret, with the same field names, and the connection context Argo CD
 * keeps in ConfigMaps (argocd-ssh-known-hosts-cm, argocd-tls-certs-cm).
 */
export interface GitCredentials {
  /** HTTPS Basic auth; a token given as password works on hosts that take tokens over Basic. */
  username?: string;
  password?: string;
  /** HTTPS `Authorization: Bearer` (Bitbucket Data Center / Server access tokens). */
  bearerToken?: string;
  /** PEM or OpenSSH private key for ssh:// and scp-style URLs. */
  sshPrivateKey?: string;
  /** Accept any SSH host key. Only ever true when the repository's own secret says so. */
  insecureIgnoreHostKey?: boolean;
  /** PEM client certificate and key for HTTPS servers that ask for one. */
  tlsClientCertData?: string;
  tlsClientCertKey?: string;
  /** Skip TLS server verification. Only ever true when the repository's own secret says so. */
  insecure?: boolean;
  /** HTTP(S) proxy URL for this repository; without it HTTPS_PROXY / HTTP_PROXY apply. */
  proxy?: string;
  /** Comma-separated hosts, domains (.example.com) or CIDRs that bypass `proxy`. */
  noProxy?: string;
  /** GitHub App: the app signs a JWT that buys an installation token, used as Basic auth. */
  githubAppID?: string;
  githubAppInstallationID?: string;
  githubAppPrivateKey?: string;
  /** GitHub Enterprise API base, e.g. https://ghe.example.com/api/v3 (default https://api.github.com). */
  githubAppEnterpriseBaseUrl?: string;
}

/** Connection context shared by every repository of an Argo CD installation (from its ConfigMaps). */
export interface GitConnectionContext {
  /** ssh_known_hosts text: `host[,host] keytype base64 [comment]` lines, hashed `|1|` entries allowed. */
  knownHosts?: string;
  /** Extra trusted CA / server certificates (PEM) per host name without port, as argocd-tls-certs-cm keys them. */
  tlsCerts?: Readonly<Record<string, string>>;
}

/** Every secret value in a set of credentials, for redactSecrets. */
export function credentialSecrets(credentials: GitCredentials | undefined): string[] {
  if (!credentials) return [];
  const values = [
    credentials.password, credentials.bearerToken, credentials.sshPrivateKey, credentials.tlsClientCertKey, credentials.githubAppPrivateKey,
  ].filter((value): value is string => typeof value === 'string' && value.length > 0);
  // A key's body lines are secret on their own too: a library may quote one line of a PEM.
  const lines = values.flatMap((value) => value.split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length >= 16 && !line.startsWith('-----')));
  return [...values, ...lines];
}
