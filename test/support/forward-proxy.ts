import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';

export interface ForwardProxy {
  /** `http://127.0.0.1:<port>`, the value for a repository Secret's `proxy`. */
  url: string;
  /** What it carried: `CONNECT host:port` for tunnels, `<METHOD> <absolute URI>` for plain http. */
  seen: string[];
  close(): Promise<void>;
}

export interface ForwardProxyOptions {
  /**
   * Host names only the proxy can resolve, to the address it connects to, as behind a corporate
   * proxy. A client that went around the proxy cannot reach these names (and loopback addresses
   * are never proxied, as in Argo CD), so a test that uses them proves the proxy was used.
   */
  resolve?: Record<string, string>;
}

/** A forward proxy on loopback, as a corporate one behaves: CONNECT tunnels for https, absolute-URI requests for http. */
export async function startForwardProxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const address = (host: string): string => options.resolve?.[host] ?? host;
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const proxy: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url!);
    const upstream = httpRequest({ host: address(target.hostname), port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  proxy.on('connect', (req, socket: Socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(':');
    const upstream = netConnect(Number(port), address(host!), () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  proxy.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      proxy.close(() => resolve());
    }),
  };
}
