/**
 * The HTTP/2 side of the load generator: subscribers as streams of shared sessions, N sessions ×
 * M streams. Each session runs over a TLS socket of its own making (ALPN `h2`, the bench's
 * certificate as the only CA), so that it can be bound to a source address and ended with a RST
 * like the HTTP/1.1 sockets. A stream's DATA goes straight to its subscriber's SSE parser: one
 * `onData` per DATA frame received (a frame split across two socket reads counts twice).
 */
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2'
import type { Header } from './credentials.js'
import { dialTls, type TlsLink } from './tls.js'

/** What a stream reports to its subscriber. */
export interface H2StreamHandler {
  onHead (status: number, headers: Map<string, string>): void
  onData (buf: Buffer): void
  /** The stream ended, failed or was reset; `reason` says which. */
  onGone (reason: string): void
}

/**
 * Receive windows: each stream and the session take far more than the flow-control window of the
 * bench (16 events per subscriber) can have in flight, so the server never waits for a WINDOW_UPDATE.
 */
const STREAM_WINDOW = 1 << 20
const SESSION_WINDOW = 32 << 20

interface Session {
  session: ClientHttp2Session
  link: TlsLink
}

/** The sessions of one shard: subscriber `i` is a stream of session ⌊i / streamsPerSession⌋. */
export class H2Sessions {
  private readonly sessions = new Map<number, Session>()

  constructor (private readonly ca: string, private readonly streamsPerSession: number) {}

  /** Opens `GET path` (with `extra`, a credential, among its headers) as a stream of subscriber `index`'s session (made on first use). */
  open (index: number, target: { host: string, port: number }, localAddress: string, path: string, handler: H2StreamHandler, extra?: Header): ClientHttp2Stream {
    const group = Math.floor(index / this.streamsPerSession)
    let entry = this.sessions.get(group)
    if (entry === undefined || entry.session.destroyed || entry.session.closed) {
      entry = this.connect(target, localAddress)
      this.sessions.set(group, entry)
    }
    const stream = entry.session.request({ ':path': path, accept: 'text/event-stream', 'cache-control': 'no-cache', ...extra === undefined ? {} : { [extra.name]: extra.value } })
    stream.on('response', (headers) => {
      const map = new Map<string, string>()
      for (const [name, value] of Object.entries(headers)) {
        if (!name.startsWith(':')) map.set(name, String(value))
      }
      handler.onHead(Number(headers[':status']), map)
    })
    stream.on('data', (buf: Buffer) => handler.onData(buf))
    stream.on('end', () => handler.onGone('stream ended'))
    stream.on('error', (err: NodeJS.ErrnoException) => handler.onGone(err.code ?? err.message))
    stream.on('close', () => handler.onGone(stream.rstCode === constants.NGHTTP2_NO_ERROR ? 'closed' : `reset ${stream.rstCode}`))
    return stream
  }

  /** Sessions open now. */
  get size (): number {
    return this.sessions.size
  }

  /** Ends every session with a RST of its TCP connection: no port is left in TIME_WAIT. */
  resetAll (): void {
    for (const { session, link } of this.sessions.values()) {
      link.reset()
      session.destroy()
    }
    this.sessions.clear()
  }

  private connect (target: { host: string, port: number }, localAddress: string): Session {
    const link = dialTls({ ...target, ca: this.ca, alpn: 'h2', localAddress })
    const session = connect(`https://${target.host}:${target.port}`, {
      createConnection: () => link.socket,
      settings: { initialWindowSize: STREAM_WINDOW, enablePush: false }
    })
    session.on('connect', () => session.setLocalWindowSize(SESSION_WINDOW))
    // A session that fails takes its streams down: each of them reports it.
    session.on('error', () => {})
    return { session, link }
  }
}
