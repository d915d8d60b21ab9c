import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import { unchunk } from './sse.js'

/**
 * Where a connection writes its frames (each one an HTTP/1.1 chunk, see lib/wire/sse.ts).
 * `writableLength` is what was accepted but not yet handed to the kernel: the slow-client measure.
 */
export interface SseSink {
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
 * flush); any other response (HTTP/1.0, HTTP/2) goes through the response object.
 */
export function openSink (res: ServerResponse, headers: OutgoingHttpHeaders, options: OpenSinkOptions = {}): SseSink {
  res.writeHead(200, headers)
  const socket = res.socket
  if (!res.chunkedEncoding || socket === null) {
    res.flushHeaders()
    return new ResponseSink(res)
  }
  // One socket write per connect, not two: the head waits in the corked socket for the first frames.
  socket.cork()
  res.flushHeaders()
  const takenOver = options.longLived === true && takeOverSocket(res, socket, options.warn)
  return new ChunkedSocketSink(socket, takenOver ? undefined : res)
}

/** The zero-length chunk that ends a chunked body. */
const LAST_CHUNK = '0\r\n\r\n'

class ChunkedSocketSink implements SseSink {
  /** The head is corked in the socket until the first frames join it (see `openSink`). */
  private headHeld = true

  /**
   * @param res the response while Node's HTTP server still owns the socket; undefined once the
   * socket was taken over, and the sink ends the body itself
   */
  constructor (private readonly socket: Socket, private readonly res: ServerResponse | undefined) {}

  write (frame: Buffer): void {
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
    this.releaseHead()
    if (this.res !== undefined) {
      // The response writes the closing zero-length chunk; the socket stays usable for keep-alive.
      this.res.end()
      return
    }
    // Already reset by the client: writing would only make an error to throw away.
    if (!this.socket.writable) return
    // A socket taken from the HTTP server can carry no other request: close it once the end is out.
    this.socket.end(LAST_CHUNK, () => this.socket.destroy())
  }

  destroy (): void {
    this.socket.resetAndDestroy()
  }

  get writableLength (): number {
    return this.socket.writableLength
  }

  onClose (listener: () => void): void {
    // `on`, not `once`: 'close' comes once anyway, and a once-wrapper costs ~150 bytes per stream.
    (this.res ?? this.socket).on('close', listener)
  }

  /** Uncorks the head once, inside the first write or flush: the frames leave with it. */
  private releaseHead (): void {
    if (!this.headHeld) return
    this.headHeld = false
    this.socket.uncork()
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
    if (this.res.socket === null) this.res.destroy()
    else this.res.socket.resetAndDestroy()
  }

  get writableLength (): number {
    return this.res.writableLength
  }

  onClose (listener: () => void): void {
    this.res.once('close', listener)
  }
}

/*
 * Taking a socket over from Node's HTTP server. Node keeps, for every socket it serves, an HTTP
 * parser (about 2 KB, mostly native), the request and response objects, a state object and
 * the bound listeners that hold them, and Fastify's request, reply and child logger hang off the
 * response: about 5 KB per idle stream, more than the socket itself. Node gives all of that up
 * when it hands a socket to an `upgrade` listener; an SSE response is no upgrade, so this does
 * the same steps by hand. It is the one place where the hub reaches into Node's internals
 * (checked on Node 20): it verifies first that they are what it expects, and otherwise leaves
 * the socket with the HTTP server, where the stream works as well, only larger.
 */

type FreeParser = (parser: object, req: object | null, socket: Socket) => void

/** `freeParser(parser, req, socket)`: how Node's HTTP server lets go of a socket's parser (unconsume, forget, pool). */
const freeParser = ((): FreeParser | undefined => {
  try {
    const { freeParser } = createRequire(import.meta.url)('node:_http_common') as { freeParser?: unknown }
    return typeof freeParser === 'function' ? freeParser as FreeParser : undefined
  } catch {
    return undefined
  }
})()

/**
 * The listeners Node's HTTP server puts on each of its sockets (`connectionListenerInternal` in
 * lib/_http_server.js) that must come off: the bound ones hold the parser and the
 * per-connection state; `resume` and `pause` would keep the socket in step with a parser it no
 * longer has. Its `error` and `timeout` listeners stay: they answer as before, and hold nothing.
 */
const SERVER_LISTENERS: ReadonlyArray<readonly [event: string, name: string]> = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['close', 'bound socketOnClose'],
  ['drain', 'bound socketOnDrain'],
  ['resume', 'onSocketResume'],
  ['pause', 'onSocketPause']
]

/**
 * Takes the socket of a response whose head is written away from Node's HTTP server, as Node
 * does before it emits `upgrade` (`onParserExecuteCommon` in lib/_http_server.js): off come the
 * server's listeners, the response lets go of the socket and the parser goes back to Node's
 * pool; the request, the response and Fastify's objects become garbage. From then on the socket
 * carries this stream only. Returns false, having changed nothing, when the internals are not as
 * expected or when someone listens for the end of the request (`request.signal`,
 * `onRequestAbort` hooks, handler timeouts): it would never come.
 */
function takeOverSocket (res: ServerResponse, socket: Socket, warn?: (message: string) => void): boolean {
  const parser = (socket as Socket & { parser?: object | null }).parser
  if (res.req.listenerCount('close') > 0) return false
  if (freeParser === undefined || parser == null) return fallBack(warn, 'node:_http_common has no freeParser or the socket no parser')
  const found: Array<[string, (...args: unknown[]) => void]> = []
  for (const [event, name] of SERVER_LISTENERS) {
    const listener = onlyListenerNamed(socket, event, name)
    if (listener === undefined) return fallBack(warn, `the socket has no single '${event}' listener named '${name}'`)
    found.push([event, listener])
  }
  for (const [event, listener] of found) socket.removeListener(event, listener)
  res.detachSocket(socket)
  freeParser(parser, res.req, socket)
  // What the server did on a client's FIN (socketOnEnd, without httpAllowHalfOpen): end this side too.
  socket.allowHalfOpen = false
  // Keep reading, or a client that goes away would not be noticed until a write fails.
  if (socket.isPaused()) socket.resume()
  return true
}

let warnedOfFallback = false

/** Leaves the socket with the HTTP server, and says why once per process: streams then cost more memory. */
function fallBack (warn: ((message: string) => void) | undefined, why: string): false {
  if (!warnedOfFallback && warn !== undefined) {
    warnedOfFallback = true
    warn(`streams stay with Node's HTTP server, about 5 KB more per idle stream: this Node (${process.version}) is not as the socket take-over expects (${why})`)
  }
  return false
}

/** The one listener of `event` called `name`; undefined when there is none or more than one. */
function onlyListenerNamed (socket: Socket, event: string, name: string): ((...args: unknown[]) => void) | undefined {
  let found
  for (const listener of socket.listeners(event)) {
    if (listener.name !== name) continue
    if (found !== undefined) return undefined
    found = listener as (...args: unknown[]) => void
  }
  return found
}
