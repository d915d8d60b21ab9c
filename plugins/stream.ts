import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { openSink, type SseSink } from '../lib/sink.js'
import { SSE_HEADERS } from '../lib/sse.js'

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Takes the response over as an SSE stream and returns its sink, or answers a refusal
     * (`retry:` and close, see `Hub.refuse`) and returns undefined when the hub cannot take
     * another stream now (draining, at maxConnections) or the client's address is over
     * `connectRateLimit`. Call it only once the request has been checked.
     */
    openStream (): SseSink | undefined
  }
}

/** One way for every SSE route to start its stream. */
export default fp(async function streamPlugin (fastify) {
  fastify.decorateReply('openStream', function openStream (this: FastifyReply): SseSink | undefined {
    const hub = this.server.hub
    // Hooks (CORS) set their headers on the reply; a hijacked response must copy them itself.
    const headers = { ...this.getHeaders(), ...SSE_HEADERS } as OutgoingHttpHeaders
    this.hijack()
    // The address's rate is counted only for a stream that would open otherwise.
    const refusal = hub.refusal() ?? (this.server.hubAdmitsStream(this.request) ? undefined : 'rate-limit')
    if (refusal === undefined) return openSink(this.raw, headers, { longLived: true })
    hub.refuse(openSink(this.raw, { ...headers, 'x-sse-hub-refused': refusal }), refusal)
    return undefined
  })
}, { name: 'sse-hub-stream', fastify: '5.x', dependencies: ['sse-hub-core', 'sse-hub-access'] })
