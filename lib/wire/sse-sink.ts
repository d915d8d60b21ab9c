/**
 * Where a connection writes its frames (each one an HTTP/1.1 chunk, see lib/wire/sse.ts), over
 * HTTP/1.1 (lib/wire/sink.ts) or HTTP/2 (lib/wire/h2-sink.ts). `writableLength` is what was
 * accepted but not yet handed to the kernel: the slow-client measure.
 */
export interface SseSink {
  /**
   * Starts the stream, before any other write: `text` (SSE frames, not yet chunked: the opening
   * frames a stream builds for itself) and then `frames`, leaving together, with the response
   * head where the sink sends it.
   */
  open (text: string, frames: readonly Buffer[]): void
  write (frame: Buffer): void
  cork (): void
  uncork (): void
  /** Ends the response properly, so the client sees the stream close and reconnects. */
  end (): void
  /** Drops the connection at once, with a reset: nothing unsent stays in the kernel's buffers. */
  destroy (): void
  readonly writableLength: number
  onClose (listener: () => void): void
}
