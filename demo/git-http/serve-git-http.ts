/**
 * Runs the git http-backend bridge in a process of its own (benchmarks measure the client, not a
 * server sharing its event loop):
 *
 *   node dist/demo/git-http/serve-git-http.js --root DIR [--port N] [--host H] [--protocol v0|v2]
 *     [--receive-pack] [--user NAME --password SECRET]
 *
 * Prints {"url":"http://127.0.0.1:PORT"} as one line on stdout, then serves until SIGTERM or SIGINT.
 */
import { parseArgs } from 'node:util';
import { startGitHttpServer, type GitHttpServerOptions } from './git-http-server.js';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    protocol: { type: 'string' },
    'receive-pack': { type: 'boolean' },
    user: { type: 'string' },
    password: { type: 'string' },
  },
  strict: true,
});

function fail(message: string): never {
  process.stderr.write(`serve-git-http: ${message}\n`);
  process.exit(2);
}

if (!values.root) fail('--root DIR is required');
if (values.protocol !== undefined && values.protocol !== 'v0' && values.protocol !== 'v2') fail('--protocol must be v0 or v2');
if ((values.user === undefined) !== (values.password === undefined)) fail('--user and --password go together');
const port = values.port === undefined ? 0 : Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad --port ${values.port}`);

const options: GitHttpServerOptions = { root: values.root, port };
if (values.host !== undefined) options.host = values.host;
if (values.protocol === 'v0' || values.protocol === 'v2') options.protocol = values.protocol;
if (values['receive-pack']) options.receivePack = true;
if (values.user !== undefined && values.password !== undefined) options.auth = { username: values.user, password: values.password };

const server = await startGitHttpServer(options);
// Requests are not needed here, and a long benchmark would otherwise keep every record.
setInterval(() => server.requests.splice(0), 10_000).unref();
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  server.close().then(
    () => process.exit(0),
    (error: unknown) => fail(`close failed: ${String(error)}`),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
