/**
 * The hub over TLS for a checkout whose `sse-hub` does not serve TLS itself yet: the built plugin
 * (`<cwd>/dist`) with the configuration the command would resolve from the same flags and
 * environment, in Fastify's HTTP/2 server with HTTP/1.1 allowed, key and certificate from
 * `SSE_HUB_TLS_KEY` and `SSE_HUB_TLS_CERT` (the hub's own option names). Bench only: the command's
 * connection guard, 404 handler and graceful stop are left out, none of which the scenarios reach.
 *
 * SSE_HUB_TLS_CERT=cert.pem SSE_HUB_TLS_KEY=key.pem node --import tsx bench/tls-hub-server.ts --port 19090 --insecure
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyPluginAsync } from 'fastify'

interface ConfigModule {
  configFromArgs (args: string[]): { config: Record<string, unknown> }
  configFromEnv (env: NodeJS.ProcessEnv): Record<string, unknown>
  resolveConfig (input: Record<string, unknown>): { port: number, host: string, logLevel: string }
}

const dist = (path: string): string => pathToFileURL(join(process.cwd(), 'dist', path)).href
const { configFromArgs, configFromEnv, resolveConfig } = await import(dist('lib/config/config.js')) as ConfigModule
const { sseHubWithConfig } = await import(dist('app.js')) as { sseHubWithConfig: FastifyPluginAsync<{ config: unknown }> }

const certPath = process.env.SSE_HUB_TLS_CERT
const keyPath = process.env.SSE_HUB_TLS_KEY
if (certPath === undefined || keyPath === undefined) throw new Error('SSE_HUB_TLS_CERT and SSE_HUB_TLS_KEY name the PEM files')
const config = resolveConfig({ ...configFromEnv(process.env), ...configFromArgs(process.argv.slice(2)).config })

const app = Fastify({
  http2: true,
  https: { allowHTTP1: true, cert: readFileSync(certPath), key: readFileSync(keyPath) },
  logger: { level: config.logLevel }
})
await app.register(sseHubWithConfig, { config })
await app.listen({ port: config.port, host: config.host })
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => { process.exit(0) })
}
