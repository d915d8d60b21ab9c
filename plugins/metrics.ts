import fp from 'fastify-plugin'
import { HubMetrics } from '../lib/core/metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prometheus metrics of the hub of this scope, served by `GET /metrics`. */
    hubMetrics: HubMetrics
  }
}

/**
 * Metrics of the hub's routes: each answer with an error status is counted by status, and each
 * accepted publish is timed, from its arrival to its `200`. Streams are not answers: a
 * subscribe turned away for now is counted by the hub, by reason. One `onResponse` hook with no
 * allocation; what the hub counts per event is read only when `/metrics` is scraped.
 */
export default fp(async function metricsPlugin (fastify) {
  const metrics = new HubMetrics(fastify.hub)
  fastify.decorate('hubMetrics', metrics)
  if (fastify.hubAuthCallback !== undefined) metrics.watchAuthCallback(fastify.hubAuthCallback)
  if (fastify.hubWebhooks !== undefined) metrics.watchWebhooks(fastify.hubWebhooks)
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode
    if (status >= 400) metrics.rejectedRequest(status)
    else if (request.routeOptions.config.access === 'publish') metrics.publishTook(reply.elapsedTime / 1000)
    done()
  })
}, { name: 'sse-hub-metrics', fastify: '5.x', dependencies: ['sse-hub-core', 'sse-hub-access'] })
