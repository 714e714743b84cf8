import type { PktLineReader } from './pkt-line.js';
import type { RepoUrl } from './repo-url.js';

/**
 * One conversation with a repository's git-upload-pack, over smart HTTP or SSH. The ref listing,
 * the fetch request and the bundle writer are the same for both; only this part differs.
 * HTTP is stateless (a GET, then one POST per request); SSH is one exec channel that carries the
 * advertisement and every request after it.
 */
export interface UploadPackConnection {
  readonly repo: RepoUrl;
  /** Sent as the agent capability; no spaces. */
  readonly userAgent: string;
  /** Starts the conversation: a reader at the server's first packet (HTTP's `# service=` line included). */
  advertise(): Promise<PktLineReader>;
  /** Sends one request (a v2 command, or the v0 wants); a reader of the answer. */
  request(body: Buffer, protocolV2: boolean): Promise<PktLineReader>;
  /** Done with a reader from advertise or request: HTTP closes that response, SSH keeps its channel. */
  release(reader: PktLineReader): Promise<void>;
  /** Turns a transport failure (socket, TLS, SSH, a server process that died) into a sentence about the repository. */
  describeError(error: unknown): Error;
  /** Ends the conversation (closes an SSH connection); safe to call more than once. */
  close(): Promise<void>;
}
