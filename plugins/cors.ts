import cors from '@fastify/cors'
import fp from 'fastify-plugin'

export interface CorsPluginOptions {
  /** `*` or a comma-separated list of origins. */
  origins: string
}

/**
 * CORS for the hub's routes (default `*`, as in the original service). Registered inside the
 * hub's own scope, so an embedding app's routes keep their own CORS policy.
 */
export default fp<CorsPluginOptions>(async function corsPlugin (fastify, { origins }) {
  const list = origins.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '')
  await fastify.register(cors, {
    origin: list.includes('*') ? '*' : list,
    methods: ['GET', 'POST'],
    allowedHeaders: ['Content-Type', 'Authorization', 'Last-Event-ID'],
    exposedHeaders: ['X-SSE-Hub-Refused']
  })
}, { name: 'sse-hub-cors', fastify: '5.x' })
