import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import type { Socket } from 'node:net'
import { openHttp2Sink } from './h2-sink.js'
import type { SseSink } from './sse-sink.js'
import { chunkText, unchunk } from './sse.js'
import { chunkedHead, chunkedHeadFits } from './head.js'
import { takeOverSocket } from './take-over.js'

export type { SseSink } from './sse-sink.js'

export interface OpenSinkOptions {
  /**
   * The stream stays open (anything but a refusal): its socket is taken over from Node's HTTP
   * server, so that an idle stream holds a socket and not a whole HTTP request (see
   * `takeOverSocket`).
   * @default false
   */
  longLived?: boolean
  /** Told once per process when Node's internals are not as the take-over expects (it then falls back). */
  warn?: (message: string) => void
}

/**
 * Sends the response head of a stream and returns its sink. A chunked HTTP/1.1 response gets
 * its frames written straight to the socket (one socket write per frame, or one writev per
 * flush); an HTTP/2 response, to its stream (lib/wire/h2-sink.ts); any other (HTTP/1.0) goes
 * through the response object.
 * @param res the response, of Node's HTTP/1 server or of its HTTP/2 compatibility API
 * @param headers for HTTP/2 without `Connection`, which is illegal there
 */
export function openSink (res: ServerResponse | Http2ServerResponse, headers: OutgoingHttpHeaders, options: OpenSinkOptions = {}): SseSink {
  if ('stream' in res) return openHttp2Sink(res, headers)
  const socket = res.socket
  // A stream that stays open takes its socket over first and writes its head itself (lib/wire/head.ts).
  if (options.longLived === true && socket !== null && chunkedHeadFits(res.req, headers)) {
    const head = chunkedHead(headers)
    // The sink sends the head itself, with the opening frames (see `ChunkedSocketSink.open`).
    if (takeOverSocket(res, socket, options.warn)) return new ChunkedSocketSink(socket, undefined, head)
  }
  res.writeHead(200, headers)
  if (!res.chunkedEncoding || socket === null) {
    res.flushHeaders()
    return new ResponseSink(res)
  }
  // One socket write per connect, not two: the head waits in the corked socket for the opening frames.
  socket.cork()
  res.flushHeaders()
  return new ChunkedSocketSink(socket, res, '')
}

/** The zero-length chunk that ends a chunked body. */
const LAST_CHUNK = '0\r\n\r\n'

class ChunkedSocketSink implements SseSink {
  /** Whether the response wrote the head into the corked socket (see `openSink`), still to be uncorked. */
  private corked: boolean

  /**
   * @param res the response while Node's HTTP server still owns the socket; undefined once the
   * socket was taken over, and the sink ends the body itself
   * @param head the response head the sink sends before the first frames (a taken-over socket);
   * empty when the response wrote it into the corked socket
   */
  constructor (private readonly socket: Socket, private readonly res: ServerResponse | undefined, private head: string) {
    this.corked = res !== undefined
  }

  /**
   * The head and the opening text go out as one string, in one socket write (the frames that
   * follow, if any, join it in one corked run): no Buffer is made for the text of one stream.
   */
  open (text: string, frames: readonly Buffer[]): void {
    const socket = this.socket
    if (frames.length > 0) socket.cork()
    socket.write(text === '' ? this.head : this.head + chunkText(text))
    this.head = ''
    for (const frame of frames) socket.write(frame)
    if (frames.length > 0) socket.uncork()
    this.releaseHead()
  }

  write (frame: Buffer): void {
    // Not opened (a sink is opened first): the head goes out with this frame.
    if (this.head !== '') this.sendHead()
    this.socket.write(frame)
    this.releaseHead()
  }

  cork (): void {
    this.socket.cork()
  }

  uncork (): void {
    this.socket.uncork()
    this.releaseHead()
  }

  end (): void {
    // Ended before it was opened (its subscribe failed): still a complete response.
    if (this.head !== '') this.sendHead()
    this.releaseHead()
    if (this.res !== undefined) {
      // The response writes the closing zero-length chunk, and Node closes the socket (`Connection: close`).
      this.res.end()
      return
    }
    // Already reset by the client: writing would only make an error to throw away.
    if (!this.socket.writable) return
    // A socket taken from the HTTP server can carry no other request: close it once the end is out.
    this.socket.end(LAST_CHUNK, () => this.socket.destroy())
  }

  destroy (): void {
    resetSocket(this.socket)
  }

  get writableLength (): number {
    return this.socket.writableLength
  }

  onClose (listener: () => void): void {
    // `on`, not `once`: 'close' comes once anyway, and a once-wrapper is one more object per stream.
    (this.res ?? this.socket).on('close', listener)
  }

  /** Uncorks the head the response wrote, once, inside the first write or flush: the frames leave with it. */
  private releaseHead (): void {
    if (!this.corked) return
    this.corked = false
    this.socket.uncork()
  }

  /** Queues the head of a taken-over socket in front of what is written next, in the same socket write. */
  private sendHead (): void {
    this.socket.cork()
    this.socket.write(this.head)
    this.head = ''
    this.corked = true
  }
}

class ResponseSink implements SseSink {
  constructor (private readonly res: ServerResponse) {}

  open (text: string, frames: readonly Buffer[]): void {
    this.res.cork()
    this.res.write(text)
    for (const frame of frames) this.write(frame)
    this.res.uncork()
  }

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
    if (this.res.socket === null) this.res.destroy()
    else resetSocket(this.res.socket)
  }

  get writableLength (): number {
    return this.res.writableLength
  }

  onClose (listener: () => void): void {
    this.res.once('close', listener)
  }
}

/**
 * Drops a connection with a TCP reset. A TLS socket cannot be reset itself (Node throws): the
 * TCP socket under it is, and the TLS socket closes with it.
 */
export function resetSocket (socket: Socket): void {
  const tcp = (socket as Socket & { _parent?: Socket | null })._parent ?? socket
  try {
    if (tcp.destroyed) socket.destroy()
    else tcp.resetAndDestroy()
  } catch {
    // Not a TCP socket after all (Node's internals changed): closed without the reset.
    socket.destroy()
  }
}
