import { constants, type Http2SecureServer, type Http2Server, type ServerHttp2Session } from 'node:http2'

/**
 * The open HTTP/2 sessions of a server, for its stop: Node's server (before Node 24) neither
 * closes them nor lets its own close end while they stay open.
 */
export class Http2Sessions {
  private readonly sessions = new Set<ServerHttp2Session>()

  constructor (server: Http2Server | Http2SecureServer) {
    server.on('session', (session) => {
      this.sessions.add(session)
      session.once('close', () => this.sessions.delete(session))
    })
  }

  /** Open sessions now. */
  get size (): number {
    return this.sessions.size
  }

  /**
   * GOAWAY to every session: the client opens no new stream on it and goes elsewhere for the
   * next; the streams it has go on until they end, then the session closes.
   */
  goAway (): void {
    for (const session of this.sessions) {
      if (session.closed || session.destroyed) continue
      session.goaway(constants.NGHTTP2_NO_ERROR)
      session.close()
    }
  }

  /** Drops every session at once, with whatever streams it still has: the end of a stop that waited long enough. */
  destroyAll (): void {
    for (const session of this.sessions) session.destroy()
  }
}
