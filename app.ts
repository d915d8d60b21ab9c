import { join } from 'node:path'
import autoload from '@fastify/autoload'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { type HubConfig, type HubConfigInput, resolveConfig } from './lib/config/config.js'
import type { GivenParts } from './lib/core/parts.js'
import accessPlugin from './plugins/access.js'
import corsPlugin from './plugins/cors.js'
import docsPlugin from './plugins/docs.js'
import errorsPlugin from './plugins/errors.js'
import hubPlugin from './plugins/hub.js'
import metricsPlugin from './plugins/metrics.js'
import requestLogPlugin from './plugins/request-log.js'
import streamPlugin from './plugins/stream.js'
// Kept in the emitted app.d.ts (a bare import survives declaration emit, a used one does not), so that
// the package's entry types reach the `declare module 'fastify'` block that types `app.hub`.
import './plugins/hub.js'

/** Options of the plugin: every hub option (see `HubConfigSchema`), a route prefix, and parts to use. */
export interface SseHubOptions extends HubConfigInput, GivenParts {
  /** Mounts the hub's routes under this path, e.g. `/events` → `/events/subscribe`. */
  prefix?: string
}

/**
 * The hub as a Fastify plugin. It decorates the registering context with `hub` (hence
 * fastify-plugin) and mounts its routes in a scope of their own, so its CORS policy, error format
 * and validator never touch the embedding app's routes, and its API documentation holds its routes only. `prefix` is applied to that scope:
 * fastify-plugin ignores it on the plugin itself. The scope logs requests with their `token`
 * query parameter redacted, whatever the app's logger does elsewhere.
 */
const sseHub: FastifyPluginAsync<SseHubOptions> = async (fastify, options) => {
  const { prefix, broker, registry, redis, ...hubOptions } = options
  await mountHub(fastify, resolveConfig(hubOptions), { broker, registry, redis }, prefix)
}

/** The hub on a configuration resolved already: the standalone server's, read from its flags and environment. */
export const sseHubWithConfig = fp<{ config: HubConfig }>(async (fastify, { config }) => {
  await mountHub(fastify, config, {})
}, { name: 'fastify-sse-hub', fastify: '5.x' })

async function mountHub (fastify: FastifyInstance, config: HubConfig, parts: GivenParts, prefix?: string): Promise<void> {
  await fastify.register(hubPlugin, { config, parts })
  await fastify.register(async function sseHubRoutes (scope) {
    await scope.register(requestLogPlugin)
    await scope.register(errorsPlugin, { bodyLimit: config.bodyLimit })
    await scope.register(corsPlugin, { origins: config.corsOrigins })
    await scope.register(accessPlugin, { config })
    await scope.register(metricsPlugin)
    await scope.register(streamPlugin)
    await scope.register(docsPlugin, { config })
    // Without the dashboard, its folder (the page at `GET /` and its files) is not loaded at all.
    await scope.register(autoload, { dir: join(import.meta.dirname, 'routes'), ignorePattern: config.dashboard ? undefined : /^dashboard$/ })
  }, { prefix })
}

export default fp(sseHub, { name: 'fastify-sse-hub', fastify: '5.x' })
