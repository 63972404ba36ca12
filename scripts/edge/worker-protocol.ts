// What the gateway and its user workers say to each other (see user-worker.ts).
/** A stdout line of a worker that starts with this is a message to the gateway, not output. */
export const CONTROL_PREFIX = "@@edge ";
/** The URL the client asked for (the gateway's fetch to the worker has the worker's own host). */
export const ORIGINAL_URL_HEADER = "x-edge-original-url";
/** The client's Content-Length (fetch drops it when it streams the body on). */
export const ORIGINAL_LENGTH_HEADER = "x-edge-original-content-length";

export interface WorkerMessage {
  ready?: boolean;
  port?: number;
  pending?: number;
}

/** The lines of a byte stream, as they complete. */
export async function* lines(readable: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of readable.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
  if (buffered) yield buffered;
}
