import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { unchunk } from './sse.js'

/**
 * Where a connection writes its frames (each one an HTTP/1.1 chunk, see lib/sse.ts).
 * `writableLength` is what was accepted but not yet handed to the kernel: the slow-client measure.
 */
export interface SseSink {
  write (frame: Buffer): void
  cork (): void
  uncork (): void
  /** Ends the response properly, so the client sees the stream close and reconnects. */
  end (): void
  /** Drops the connection at once. */
  destroy (): void
  readonly writableLength: number
  onClose (listener: () => void): void
}

/**
 * Sends the response head of a stream and returns its sink. A chunked HTTP/1.1 response gets
 * its frames written straight to the socket (one socket write per frame, or one writev per
 * flush); any other response (HTTP/1.0, HTTP/2) goes through the response object.
 */
export function openSink (res: ServerResponse, headers: OutgoingHttpHeaders): SseSink {
  res.writeHead(200, headers)
  res.flushHeaders()
  const socket = res.socket
  if (res.chunkedEncoding && socket !== null) return new ChunkedSocketSink(res, socket)
  return new ResponseSink(res)
}

class ChunkedSocketSink implements SseSink {
  constructor (private readonly res: ServerResponse, private readonly socket: Socket) {}

  write (frame: Buffer): void {
    this.socket.write(frame)
  }

  cork (): void {
    this.socket.cork()
  }

  uncork (): void {
    this.socket.uncork()
  }

  end (): void {
    // The response writes the closing zero-length chunk; the socket stays usable for keep-alive.
    this.res.end()
  }

  destroy (): void {
    this.socket.destroy()
  }

  get writableLength (): number {
    return this.socket.writableLength
  }

  onClose (listener: () => void): void {
    this.res.once('close', listener)
  }
}

class ResponseSink implements SseSink {
  constructor (private readonly res: ServerResponse) {}

  write (frame: Buffer): void {
    this.res.write(unchunk(frame))
  }

  cork (): void {
    this.res.cork()
  }

  uncork (): void {
    this.res.uncork()
  }

  end (): void {
    this.res.end()
  }

  destroy (): void {
    this.res.destroy()
  }

  get writableLength (): number {
    return this.res.writableLength
  }

  onClose (listener: () => void): void {
    this.res.once('close', listener)
  }
}
