import cors from '@fastify/cors'
import fp from 'fastify-plugin'

export interface CorsPluginOptions {
  /** `*` or a comma-separated list of origins. */
  origins: string
}

/**
 * CORS for the hub's routes (default `*`, as in the original service). Registered inside the
 * hub's own scope, so an embedding app's routes keep their own CORS policy. With a list of
 * origins, only those get CORS headers, with credentials allowed, so that a page there can open
 * `new EventSource(url, { withCredentials: true })` with its `sse_hub_token` cookie.
 */
export default fp<CorsPluginOptions>(async function corsPlugin (fastify, { origins }) {
  const list = origins.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '')
  await fastify.register(cors, {
    origin: list.includes('*') ? '*' : list,
    // Cookies (sse_hub_token) cross origins only to listed origins: browsers never send them to `*`.
    credentials: !list.includes('*'),
    methods: ['GET', 'POST'],
    allowedHeaders: ['Content-Type', 'Authorization', 'Last-Event-ID'],
    exposedHeaders: ['X-SSE-Hub-Refused', 'Retry-After', 'WWW-Authenticate']
  })
}, { name: 'sse-hub-cors', fastify: '5.x' })
