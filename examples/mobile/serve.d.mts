// Types of serve.mjs, for the browser tests that import it.

/** One response the server sent. */
export interface ServedResponse {
  readonly path: string;
  readonly method: string;
  readonly status: number;
  /** Body bytes on the wire (compressed when `encoding` is set). */
  readonly bytes: number;
  readonly encoding: 'br' | 'gzip' | undefined;
}

/** A running example server. */
export interface ExampleServer {
  readonly origin: string;
  readonly port: number;
  /** Every requested path, in order. */
  readonly requests: string[];
  /** Every response, in order. */
  readonly responses: ServedResponse[];
  close(): Promise<void>;
}

/** Options of {@link serveExample}. */
export interface ServeExampleOptions {
  readonly root?: string;
  readonly port?: number;
  readonly host?: string;
  readonly log?: (line: string) => void;
  /** Answers a path instead of the file (tests: a damaged model, a missing file). */
  readonly override?: (path: string) => { status?: number; body?: Uint8Array } | undefined;
}

/** Serves examples/mobile/dist (or `root`) on 127.0.0.1 with COOP/COEP/CORP headers and precompressed copies. */
export function serveExample(options?: ServeExampleOptions): Promise<ExampleServer>;
