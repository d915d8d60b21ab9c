#!/usr/bin/env -S node --max-semi-space-size=8
// The Node flags above (`npm start` passes the same): V8's young generation may grow to 16 MB
// per semi-space, 16 MB more resident memory than 8 MB, about 1 KiB per connection at 19,000 idle
// streams; the hub's delivery allocates little, and its throughput was the same with 8 (see
// README, Performance).
import Fastify from 'fastify'
import sseHub from './app.js'
import { runTokenCommand } from './lib/cli-token.js'
import { configFromArgs, configFromEnv, helpText, openFileLimit, resolveConfig } from './lib/config.js'
import { redactedRequest, redactUrl } from './lib/redact.js'

/** How long a shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT = 10_000

// `sse-hub token ...` mints a JWT and exits (see lib/cli-token.ts).
if (process.argv[2] === 'token') process.exit(runTokenCommand(process.argv.slice(3), process.env))

let options
try {
  const args = configFromArgs(process.argv.slice(2))
  if (args.help) {
    console.log(helpText())
    process.exit(0)
  }
  // A flag wins over the environment.
  options = resolveConfig({ ...configFromEnv(process.env), ...args.config })
} catch (err) {
  console.error(`sse-hub: ${(err as Error).message}`)
  process.exit(1)
}

const { port, host, logLevel } = options
// Requests outside the hub's routes (404s) are logged with their `token` redacted too.
const app = Fastify({ logger: { level: logLevel, serializers: { req: redactedRequest } } })
// Fastify's own 404 logs and echoes the whole URL, a mistyped subscriber's ?token= included.
app.setNotFoundHandler(async (request, reply) => {
  return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Route ${request.method}:${redactUrl(request.url)} not found` })
})
await app.register(sseHub, options)
await app.listen({ port, host })
app.log.info(`open-file limit ${openFileLimit() ?? 'unknown'}, maxConnections ${options.maxConnections}`)

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    app.log.info(`${signal}: draining`)
    // Health turns 503 first; close() then stops accepting and ends every stream.
    app.hub.drain()
    setTimeout(() => {
      app.log.error('shutdown took too long, exiting')
      process.exit(1)
    }, SHUTDOWN_TIMEOUT).unref()
    app.close().then(() => process.exit(0), (err) => {
      app.log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  })
}
