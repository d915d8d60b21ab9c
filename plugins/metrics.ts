import type { onResponseHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { hooksOf } from './access.js'
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
 * subscribe turned away for now is counted by the hub, by reason. An `onResponse` hook with no
 * allocation for every route, and one more on the publish route (added as routes are, so that no
 * request reads its route's options); what the hub counts per event is read only when `/metrics` is scraped.
 */
export default fp(async function metricsPlugin (fastify) {
  const metrics = new HubMetrics(fastify.hub)
  fastify.decorate('hubMetrics', metrics)
  if (fastify.hubAuthCallback !== undefined) metrics.watchAuthCallback(fastify.hubAuthCallback)
  if (fastify.hubWebhooks !== undefined) metrics.watchWebhooks(fastify.hubWebhooks)
  fastify.addHook('onResponse', (_request, reply, done) => {
    const status = reply.statusCode
    if (status >= 400) metrics.rejectedRequest(status)
    done()
  })
  const timePublish: onResponseHookHandler = (_request, reply, done) => {
    if (reply.statusCode < 400) metrics.publishTook(reply.elapsedTime / 1000)
    done()
  }
  fastify.addHook('onRoute', (route) => {
    if (route.config?.access === 'publish') route.onResponse = [...hooksOf(route.onResponse), timePublish]
  })
}, { name: 'sse-hub-metrics', fastify: '5.x', dependencies: ['sse-hub-core', 'sse-hub-access'] })
