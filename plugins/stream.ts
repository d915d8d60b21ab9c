import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { STREAMS } from '../lib/core/hub.js'
import { openSink, type SseSink } from '../lib/wire/sink.js'
import { SSE_HEADERS, SSE_HEADERS_H2 } from '../lib/wire/sse.js'

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Takes the response over as an SSE stream and resolves with its sink, or with undefined
     * when there is no stream to feed: a `HEAD` request (answered with the stream's headers
     * only), a request pipelined behind a stream on the same connection (it can never be
     * answered; it is dropped with the connection), or a subscribe the hub turns away for now
     * (`retry:` and close, see `Hub.refuse`: draining, at maxConnections, over
     * `connectRateLimit`). Call it only once the request has been checked.
     */
    openStream (): Promise<SseSink | undefined>
  }
}

/** One way for every SSE route to start its stream. */
export default fp(async function streamPlugin (fastify) {
  const warn = (message: string): void => { fastify.log.warn(message) }

  fastify.decorateReply('openStream', async function openStream (this: FastifyReply): Promise<SseSink | undefined> {
    // When no hook went async, Node's HTTP parser is still running the callback of this request
    // (and of any pipelined behind it): the socket can be taken over (lib/wire/take-over.ts), and
    // the requests behind see that, only once it returns, a microtask later.
    await Promise.resolve()
    const streams = this.server.hub[STREAMS]
    // Hooks (CORS) set their headers on the reply; a hijacked response must copy them itself.
    // HTTP/2 (an app's `Fastify({ http2: true })`, or the standalone hub with TLS): no `Connection`.
    // getHeaders makes a new object: the stream's headers are added to it, not to the reply's.
    const headers = Object.assign(this.getHeaders(), this.request.raw.httpVersionMajor === 2 ? SSE_HEADERS_H2 : SSE_HEADERS) as OutgoingHttpHeaders
    this.hijack()
    const res = this.raw
    if (this.request.method === 'HEAD') {
      res.writeHead(200, headers)
      res.end()
      return undefined
    }
    // Pipelined behind another response: wait for this one's turn, which never comes after a stream.
    if (res.socket === null && !await socketAssigned(res)) return undefined
    // The address's rate is counted only for a stream that would open otherwise.
    const refusal = streams.refusal() ?? this.request.hubRefusal ?? (this.server.hubAdmitsStream(this.request) ? undefined : 'rate-limit')
    if (refusal === undefined) return openSink(res, headers, { longLived: true, warn })
    streams.refuse(openSink(res, { ...headers, 'x-sse-hub-refused': refusal }), refusal)
    return undefined
  })
}, { name: 'sse-hub-stream', fastify: '5.x', dependencies: ['sse-hub-core', 'sse-hub-access'] })

/**
 * Resolves true once Node hands the response its socket (the responses before it on a pipelined
 * connection have ended), false when the connection closes first. The request keeps its socket
 * all along, so its close is seen whatever became of the responses ahead.
 */
function socketAssigned (res: ServerResponse): Promise<boolean> {
  const socket = res.req.socket as ServerResponse['req']['socket'] & { parser?: object | null }
  // Gone, or taken over by a stream (lib/wire/take-over.ts frees its parser): no turn will come.
  if (socket.destroyed || socket.parser == null) return Promise.resolve(false)
  return new Promise((resolve) => {
    const onSocket = (): void => {
      socket.removeListener('close', onClose)
      resolve(true)
    }
    const onClose = (): void => {
      res.removeListener('socket', onSocket)
      resolve(false)
    }
    res.once('socket', onSocket)
    socket.once('close', onClose)
  })
}
