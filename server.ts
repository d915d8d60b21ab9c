#!/usr/bin/env -S node --max-semi-space-size=8
// The Node flags above (`npm start` passes the same): V8's young generation stays at 8 MB per
// semi-space instead of growing to 16 MB; the hub's delivery allocates little (see docs/performance.md).
import closeWithGrace from 'close-with-grace'
import { runTokenCommand } from './lib/cli/token.js'
import { configFromArgs, configFromEnv, helpText, type OptionSource, openFileLimit, resolveConfig } from './lib/config/config.js'
import { packageVersion } from './lib/config/package-version.js'
import { REQUEST_GRACE, Reloader, buildServer, checkPort, serverReloadables, stopGracefully } from './standalone.js'

// `sse-hub token ...` mints a JWT and exits (see lib/cli/token.ts).
if (process.argv[2] === 'token') process.exit(runTokenCommand(process.argv.slice(3), process.env))

let options
try {
  const args = configFromArgs(process.argv.slice(2))
  if (args.help) {
    console.log(helpText())
    process.exit(0)
  }
  if (args.version) {
    console.log(packageVersion())
    process.exit(0)
  }
  // A flag wins over the environment; an error names the option as it was given.
  const env = configFromEnv(process.env)
  options = resolveConfig({ ...env, ...args.config }, { ...sources(env, 'env'), ...sources(args.config, 'flag') })
} catch (err) {
  console.error(`sse-hub: ${(err as Error).message}`)
  process.exit(1)
}

const { port, host, shutdownDelay } = options
let app
// SIGHUP reloads, by convention, and never stops the hub, not even while it starts (with nothing to reload yet).
const starting = (): void => {}
process.on('SIGHUP', starting)
try {
  // Before anything starts or is printed (a generated token): a port in use is all the user sees.
  await checkPort(port, host)
  app = await buildServer(options)
  await app.listen({ port, host })
} catch (err) {
  console.error(`sse-hub: ${listenError(err as NodeJS.ErrnoException, port, host)}`)
  process.exit(1)
}
app.log.info(`open-file limit ${openFileLimit() ?? 'unknown'}, maxConnections ${options.maxConnections}`)

// What SIGHUP reloads registers with `reloader`.
const reloader = new Reloader(app.log)
for (const part of serverReloadables(app)) reloader.onReload(part)
process.removeListener('SIGHUP', starting).on('SIGHUP', () => { reloader.reload('SIGHUP').catch(() => {}) })

// SIGTERM or SIGINT: the graceful stop (standalone.ts); a second signal exits at once. Should the
// stop hang all the same, the process exits (code 1) a second after the stop should have ended.
closeWithGrace({
  delay: shutdownDelay + REQUEST_GRACE + 1000,
  skip: ['SIGHUP'],
  logger: { error: (message: unknown) => app.log.error(message) }
}, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'stopping after an unexpected error')
  else app.log.info(`${signal ?? 'stop'}: draining${shutdownDelay > 0 ? `, /health answers 503 for ${shutdownDelay} ms before the server stops` : ''}`)
  await stopGracefully(app, err === undefined ? shutdownDelay : 0)
})

/** option → where it was given, for the options of one source. */
function sources (config: object, source: OptionSource): Record<string, OptionSource> {
  return Object.fromEntries(Object.keys(config).map((option) => [option, source]))
}

/** A failed start, in one line: a listen error names the port. */
function listenError (err: NodeJS.ErrnoException, port: number, host: string): string {
  if (err.code === 'EADDRINUSE') return `port ${port} on ${host} is already in use; choose another with --port or PORT`
  if (err.code === 'EACCES') return `port ${port} on ${host} needs privileges this process does not have; choose one above 1023 with --port or PORT`
  if (err.code === 'EADDRNOTAVAIL') return `address ${host} is not an address of this machine; choose another with --host or HOST`
  return err.syscall === 'listen' ? `cannot listen on ${host}:${port}: ${err.message}` : err.message
}
