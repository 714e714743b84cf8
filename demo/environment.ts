import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { demoInstallation, PLANTED_SECRETS, repositoryRoot } from './argocd-installation.js';
import { createDemoRepos, type DemoRepo, type DemoRepoName } from './demo-repos.js';
import { startGitHttpServer, type GitHttpServer } from './git-http/git-http-server.js';
import { startKubeApiServer, type Identity, type KubeApiServer, type KubeObject } from './kube/kube-api-server.js';
import { pushCommit } from './origin-repos.js';

const run = promisify(execFile);

/**
 * The demo's world on loopback: Git repositories served by git http-backend behind basic auth, and
 * a kube-apiserver-like HTTPS server holding an Argo CD installation that deploys from them,
 * read through a kubeconfig with a token bound to argocd-dr's own read-only RBAC. The demo command
 * backs it up; the tests use it as the cluster and Git host of end-to-end runs.
 */

export interface DemoCredentials {
  username: string;
  password: string;
}

export interface DemoEnvironmentOptions {
  /** Where the repositories, the kubeconfig and the kube server's files go (created if missing). */
  dir: string;
  /** Git basic-auth credentials (default: user argocd, password PLANTED_SECRETS.repoPassword); false serves the repositories without auth. */
  credentials?: DemoCredentials | false;
  /** Argo CD's namespace (default argocd). */
  namespace?: string;
  /** The kubeconfig's context name, and so the cluster's name in the store (default argocd-demo). */
  context?: string;
  /** Stored after the installation (same kind, namespace and name replaces an installed object). */
  extraObjects?: readonly KubeObject[];
  /** The kube server never returns more than this many items per list page (default 5: every list pages). */
  maxPageSize?: number;
}

export interface DemoEnvironment {
  readonly dir: string;
  /** The kubeconfig file for the cluster: CA embedded, a bearer token the cluster maps to group argocd-dr-readers. */
  readonly kubeconfig: string;
  readonly context: string;
  /** Argo CD's namespace in the cluster. */
  readonly namespace: string;
  /** The bearer token in the kubeconfig (a secret: never print it). */
  readonly token: string;
  /** Base URL of the Git server, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly gitBaseUrl: string;
  /** The generated repositories (path, bare directory on disk, refs) by role. */
  readonly repos: Record<DemoRepoName, DemoRepo>;
  /** URL of each repository, as the installation's Applications name it. */
  readonly repoUrls: Record<DemoRepoName, string>;
  /** The Git server's basic-auth credentials; undefined when it needs none. */
  readonly credentials: DemoCredentials | undefined;
  /** What the cluster was seeded with. */
  readonly objects: readonly KubeObject[];
  /** The cluster: add, alter or remove objects, set faults, read its request log. */
  readonly kube: KubeApiServer;
  /** The Git server: set faults, read its request log, close() it to make every repository unreachable. */
  readonly git: GitHttpServer;
  /** Makes the cluster refuse (false) or accept again (true) the kubeconfig's token: 401 Unauthorized. */
  setTokenAccepted(accepted: boolean): void;
  /** Adds a commit on a branch of a repository (an ordinary push); returns the new commit id. */
  commit(repo: DemoRepoName, file: string, content: string, branch?: string): Promise<string>;
  /** Stops both servers; safe to call twice. */
  stop(): Promise<void>;
}

/** A tool the demo needs is missing from this machine; the message says which and how to get it. */
export class DemoPrerequisiteError extends Error {}

const DEFAULT_CONTEXT = 'argocd-demo';
const READER: Identity = { user: 'argocd-dr-demo', groups: ['argocd-dr-readers'] };

/** Generates the repositories, starts both servers and writes the kubeconfig. */
export async function startDemoEnvironment(options: DemoEnvironmentOptions): Promise<DemoEnvironment> {
  await checkPrerequisites();
  const dir = path.resolve(options.dir);
  const namespace = options.namespace ?? 'argocd';
  const context = options.context ?? DEFAULT_CONTEXT;
  const credentials = options.credentials === false ? undefined : options.credentials ?? { username: 'argocd', password: PLANTED_SECRETS.repoPassword };
  const gitRoot = path.join(dir, 'git');
  await mkdir(gitRoot, { recursive: true });
  const repos = await createDemoRepos(gitRoot);

  const token = `demo-${randomBytes(16).toString('hex')}`;
  let tokenAccepted = true;
  let git: GitHttpServer | undefined;
  let kube: KubeApiServer | undefined;
  try {
    git = await startGitHttpServer({ root: gitRoot, ...(credentials ? { auth: credentials } : {}) });
    const repoUrls = Object.fromEntries(Object.values(repos).map((repo) => [repo.name, `${git!.url}/${repo.path}`])) as Record<DemoRepoName, string>;
    const objects = [
      ...demoInstallation({
        namespace,
        gitBaseUrl: git.url,
        repoUrls,
        commitOf: (name, ref) => {
          const commit = repos[name].commits.get(ref);
          if (!commit) throw new Error(`demo repository ${repos[name].path} has no ref ${ref}`);
          return commit;
        },
        ...(credentials ? { credentials } : {}),
      }),
      ...(options.extraObjects ?? []),
    ];
    kube = await startKubeApiServer({
      objects,
      authenticate: (presented) => (tokenAccepted && presented === token ? READER : undefined),
      rbac: await readerRbac(namespace),
      maxPageSize: options.maxPageSize ?? 5,
    });
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, kube.kubeconfig(token, { context }), { mode: 0o600 });

    const started = { git, kube };
    let stopped: Promise<void> | undefined;
    return {
      dir,
      kubeconfig,
      context,
      namespace,
      token,
      gitBaseUrl: git.url,
      repos,
      repoUrls,
      credentials,
      objects,
      kube,
      git,
      setTokenAccepted(accepted) {
        tokenAccepted = accepted;
      },
      async commit(name, file, content, branch = 'main') {
        const commit = await pushCommit(repos[name].dir, branch, file, content);
        repos[name].refs.set(`refs/heads/${branch}`, commit);
        repos[name].commits.set(`refs/heads/${branch}`, commit);
        return commit;
      },
      stop() {
        stopped ??= Promise.all([started.git.close(), started.kube.close()]).then(() => undefined);
        return stopped;
      },
    };
  } catch (error) {
    await Promise.all([git?.close(), kube?.close()]);
    throw error;
  }
}

/**
 * argocd-dr's own read-only RBAC (deploy/rbac/argocd-dr-reader.yaml), with Argo CD's namespace
 * in its Role and RoleBinding: the demo reads the cluster with exactly what the README tells
 * people to grant.
 */
async function readerRbac(namespace: string): Promise<KubeObject[]> {
  const text = await readFile(path.join(repositoryRoot(), 'deploy', 'rbac', 'argocd-dr-reader.yaml'), 'utf8');
  return parseAllDocuments(text).map((document) => {
    const object = document.toJSON() as KubeObject;
    if (object.metadata.namespace) object.metadata.namespace = namespace;
    return object;
  });
}

/** git (with http-backend) serves the repositories and openssl makes the cluster's certificates: throws DemoPrerequisiteError naming what is missing. */
export async function checkPrerequisites(): Promise<void> {
  let execPath: string;
  try {
    execPath = (await run('git', ['--exec-path'])).stdout.trim();
  } catch {
    throw new DemoPrerequisiteError('the demo needs git, which was not found on PATH; install git (e.g. `apt-get install git`, `brew install git`) and run it again');
  }
  try {
    await access(path.join(execPath, 'git-http-backend'));
  } catch {
    throw new DemoPrerequisiteError(`the demo needs git http-backend, which is not in ${execPath}; install a full git package (on Debian/Ubuntu: \`apt-get install git\`) and run it again`);
  }
  try {
    await run('openssl', ['version']);
  } catch {
    throw new DemoPrerequisiteError('the demo needs openssl to make its local cluster\'s TLS certificates, and it was not found on PATH; install openssl (e.g. `apt-get install openssl`, `brew install openssl`) and run it again');
  }
}
