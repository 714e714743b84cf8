/**
 * Runs the kube-apiserver-like server in a process of its own (benchmarks measure the client,
 * not a server sharing its event loop):
 *
 *   node dist/demo/kube/serve-kube.js --apps N --projects P [--page-size S] --kubeconfig FILE
 *
 * Serves a minimal Argo CD installation plus N Applications over P AppProjects, writes a
 * kubeconfig for it to FILE, prints {"url":…} as one line, then serves until SIGTERM.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { manyApplications, minimalInstallation } from '../argocd-installation.js';
import { startKubeApiServer } from './kube-api-server.js';

const { values } = parseArgs({
  options: {
    apps: { type: 'string', default: '0' },
    projects: { type: 'string', default: '1' },
    'page-size': { type: 'string', default: '500' },
    kubeconfig: { type: 'string' },
  },
  strict: true,
});
if (!values.kubeconfig) {
  process.stderr.write('serve-kube: --kubeconfig FILE is required\n');
  process.exit(2);
}
const server = await startKubeApiServer({
  objects: [...minimalInstallation(), ...manyApplications(Number(values.apps), Number(values.projects))],
  maxPageSize: Number(values['page-size']),
});
await writeFile(values.kubeconfig, server.kubeconfig('bench-token', { context: 'bench' }));
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
