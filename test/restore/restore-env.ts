import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { tempDir } from '../../demo/git.js';
import { startKubeApiServer, type KubeApiServer, type KubeObject } from '../../demo/kube/kube-api-server.js';
import { argocdDr } from '../support/cli.js';

/** A kube-apiserver-like server and a kubeconfig file for it. */
export interface Cluster {
  server: KubeApiServer;
  kubeconfig: string;
}

export async function startCluster(objects: readonly KubeObject[], context = 'test-cluster'): Promise<Cluster> {
  const server = await startKubeApiServer({ objects });
  const kubeconfig = path.join(await tempDir('kubeconfig'), 'config');
  await writeFile(kubeconfig, server.kubeconfig('any-token', { context }));
  return { server, kubeconfig };
}

/** `argocd-dr export` of a cluster into a store, as cluster "prod". */
export async function exportCluster(cluster: Cluster, store: string): Promise<void> {
  const result = await argocdDr(['export', '--kubeconfig', cluster.kubeconfig, '--store', store, '--cluster-name', 'prod', '--json']);
  if (result.code !== 0) throw new Error(`export failed (${result.code}): ${result.stdout}${result.stderr}`);
}

export async function exportText(store: string): Promise<string> {
  return readFile(path.join(store, 'argocd', 'prod', 'export.yaml'), 'utf8');
}

export function documentsOf(text: string): KubeObject[] {
  return parseAllDocuments(text).map((document) => document.toJS() as KubeObject);
}

/** Requests that change something: every write the server saw. */
export function writes(server: KubeApiServer): string[] {
  return server.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);
}

export const ARGO = 'argoproj.io/v1alpha1';
