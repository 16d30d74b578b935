// Types of serve.mjs, for the browser test that imports it.

/** A running example server. */
export interface ExampleServer {
  readonly origin: string;
  readonly port: number;
  /** Every requested path, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** Serves examples/mobile/dist (or `root`) on 127.0.0.1 with COOP/COEP/CORP headers. */
export function serveExample(options?: { root?: string; port?: number; host?: string; log?: (line: string) => void }): Promise<ExampleServer>;
