import type { ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'

/*
 * Taking a socket over from Node's HTTP server. Node keeps, for every socket it serves, an HTTP
 * parser (mostly native memory), the request and response objects, a state object and
 * the bound listeners that hold them, and Fastify's request, reply and child logger hang off the
 * response: more per idle stream than the socket itself. Node gives all of that up when it hands
 * a socket to an `upgrade` listener; an SSE response is no upgrade, so this does the same steps by
 * hand, reaching into Node's internals (lib/README.md lists each place that does): it verifies
 * first that they are what it expects, and otherwise leaves the socket with the HTTP server,
 * where the stream works as well, only larger.
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
 * Takes the socket of a response away from Node's HTTP server (the stream then writes its head
 * itself, see `openSink`), as Node does before it emits `upgrade` (`onParserExecuteCommon` in
 * lib/_http_server.js): off come the server's listeners, the response lets go of the socket and
 * the parser goes back to Node's pool; the request, the response and Fastify's objects become
 * garbage. From then on the socket carries this stream only. Returns false, having changed
 * nothing, when the internals are not as expected or when someone listens for the end of the
 * request (`request.signal`, `onRequestAbort` hooks, handler timeouts): it would never come.
 */
export function takeOverSocket (res: ServerResponse, socket: Socket, warn?: (message: string) => void): boolean {
  const parser = (socket as Socket & { parser?: object | null }).parser
  if (res.req.listenerCount('close') > 0) return false
  if (freeParser === undefined || parser == null) return fallBack(warn, 'node:_http_common has no freeParser or the socket no parser')
  const found: Array<[string, Listener]> = []
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
    warn(`streams stay with Node's HTTP server, which holds more memory per idle stream: this Node (${process.version}) is not as the socket take-over expects (${why})`)
  }
  return false
}

type Listener = (...args: unknown[]) => void

/**
 * The one listener of `event` called `name`; undefined when there is none or more than one. Read
 * from the socket's own table of listeners (EventEmitter's `_events`: a function, or an array of
 * them), not from `listeners()`, which copies it on each of the six calls per connect.
 */
function onlyListenerNamed (socket: Socket, event: string, name: string): Listener | undefined {
  const entry = (socket as Socket & { _events?: Record<string, Listener | Listener[] | undefined> })._events?.[event]
  if (typeof entry === 'function') return entry.name === name ? entry : undefined
  if (!Array.isArray(entry)) return undefined
  let found
  for (const listener of entry) {
    if (listener.name !== name) continue
    if (found !== undefined) return undefined
    found = listener
  }
  return found
}
