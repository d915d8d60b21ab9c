import { type IncomingMessage, Server as HttpServer } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import type { Server, Socket } from 'node:net'
import { addressKey } from '../base/address.js'

/** ms between two reports of shed connections. */
const SHED_REPORT_INTERVAL = 60_000

/** Waiting connections at which the closed ones are first swept out (see `SocketGuard.waiting`). */
const FIRST_SWEEP = 256

export interface SocketGuardOptions {
  /** Open connections per client address (IPv6 per /64); 0: no limit. */
  maxConnectionsPerAddress: number
  /**
   * Open connections at which the oldest one that has not sent a whole request head yet is
   * closed to make room for a new one; undefined: never.
   */
  sheddingThreshold?: number
}

/**
 * Guards the server's file descriptors against clients that open connections and send nothing
 * useful on them (slowloris): an optional cap per address, and, near the open-file limit, room
 * made for newcomers by closing the connection that has waited longest without a complete
 * request head. Such a connection would be cut at `headersTimeout` anyway; shedding it early is
 * what keeps `/health`, `/publish` and `/subscribe` reachable while a flood of them is open.
 * Streams and requests in progress are never shed.
 */
export class SocketGuard {
  private readonly perAddress = new Map<string, number>()
  /**
   * Connections without a complete request head yet, oldest first. Without a per-address limit a
   * connection carries no listener of the guard's: its request takes it out, and one closed before
   * sending any stays until a sweep, which runs each time the set has doubled since the last one.
   * So the set holds at most about twice the connections that are waiting, and a connect costs no
   * listener added and removed again.
   */
  private readonly waiting = new Set<Socket>()
  private sweepAt = FIRST_SWEEP
  /** Told, at most once a minute, how many connections were shed since the last time. */
  onShed: ((count: number) => void) | undefined
  private unreportedShed = 0
  private lastShedReport = -Infinity

  /** With a per-address limit, one listener for every socket's close (`this` is the socket): no closure per connection. */
  private readonly onClose: (this: Socket) => void

  constructor (private readonly server: Server, private readonly options: SocketGuardOptions) {
    const guard = this
    this.onClose = function onClose (this: Socket) { guard.release(this) }
    server.on('connection', this.onConnection)
    // A TLS or HTTP/2 server hands its requests another socket than the TCP one it accepted.
    server.on('request', server instanceof HttpServer ? this.onRequest : this.onWrappedRequest)
  }

  private readonly onConnection = (socket: Socket): void => {
    const limit = this.options.maxConnectionsPerAddress
    if (limit > 0) {
      const key = addressKey(socket.remoteAddress ?? '')
      const count = (this.perAddress.get(key) ?? 0) + 1
      if (count > limit) {
        socket.destroy()
        return
      }
      this.perAddress.set(key, count)
    }
    const threshold = this.options.sheddingThreshold
    if (threshold !== undefined && openConnections(this.server) > threshold) this.shedOldest()
    this.waiting.add(socket)
    if (limit > 0) socket.on('close', this.onClose)
    else if (this.waiting.size >= this.sweepAt) this.sweep()
  }

  /** Takes the connections closed while waiting out of `waiting`. */
  private sweep (): void {
    for (const socket of this.waiting) {
      if (socket.destroyed) this.waiting.delete(socket)
    }
    this.sweepAt = Math.max(FIRST_SWEEP, 2 * this.waiting.size)
  }

  /** A connection closed (the listener of a guard with a per-address limit): one less for its address. */
  private release (socket: Socket): void {
    this.waiting.delete(socket)
    // The peer address was read (and cached by the socket) on connect.
    const key = addressKey(socket.remoteAddress ?? '')
    const count = (this.perAddress.get(key) ?? 1) - 1
    if (count > 0) this.perAddress.set(key, count)
    else this.perAddress.delete(key)
  }

  private readonly onRequest = (request: IncomingMessage): void => {
    this.waiting.delete(request.socket)
  }

  /**
   * A request of a TLS or HTTP/2 server: its socket is the TLS socket (HTTP/1.1) or the session's
   * (HTTP/2), over the TCP socket that `connection` gave; the first request of a session ends
   * its wait, the others find it already ended.
   */
  private readonly onWrappedRequest = (request: IncomingMessage | Http2ServerRequest): void => {
    const socket = ('stream' in request ? request.stream.session?.socket : request.socket) as (Socket & { _parent?: Socket | null }) | undefined
    if (socket === undefined) return
    this.waiting.delete(socket._parent ?? socket)
  }

  /** Closes every connection that has not sent a complete request head (the server is stopping). */
  closeWaiting (): void {
    for (const socket of this.waiting) socket.destroy()
    this.waiting.clear()
  }

  private shedOldest (): void {
    let oldest
    // The oldest that is still open: one closed while waiting goes (see `waiting`).
    for (const socket of this.waiting) {
      this.waiting.delete(socket)
      if (!socket.destroyed) {
        oldest = socket
        break
      }
    }
    if (oldest === undefined) return
    oldest.destroy()
    this.unreportedShed++
    const now = Date.now()
    if (this.onShed !== undefined && now - this.lastShedReport >= SHED_REPORT_INTERVAL) {
      this.onShed(this.unreportedShed)
      this.unreportedShed = 0
      this.lastShedReport = now
    }
  }
}

/**
 * The server's open connections, including the current one. net.Server keeps this count for its
 * own `maxConnections` check (`getConnections()` reports it, but only through a callback).
 */
function openConnections (server: Server): number {
  return (server as Server & { _connections: number })._connections
}
