import type { FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'
import { redactedRequest } from '../lib/base/redact.js'

/** The hub's request log fields; Fastify types a serializer as returning a string, pino takes the object its own returns. */
const logSerializers = { req: redactedRequest as unknown as (request: unknown) => string }

/** Per app logger: its child with the hub's serializers, remade when the app's level changes. */
const serializingLoggers = new WeakMap<FastifyBaseLogger, FastifyBaseLogger>()

type Bindings = Record<string, unknown>
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1]

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/** A pino logger says which levels it lets through; another logger may not, and is then asked by logging. */
type LevelAware = FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean }

/**
 * The logger of one request of the hub's routes. Most requests log nothing at the configured
 * level (a subscribe, a publish): the child logger that carries the request's id is made only
 * when a line is let through, not for every request.
 */
class RequestLogger {
  private made: FastifyBaseLogger | undefined

  constructor (private readonly parent: LevelAware, private readonly bindings: Bindings) {}

  get level (): string {
    return (this.made ?? this.parent).level
  }

  set level (level: string) {
    this.child$().level = level
  }

  fatal (...args: unknown[]): void { this.log('fatal', args) }
  error (...args: unknown[]): void { this.log('error', args) }
  warn (...args: unknown[]): void { this.log('warn', args) }
  info (...args: unknown[]): void { this.log('info', args) }
  debug (...args: unknown[]): void { this.log('debug', args) }
  trace (...args: unknown[]): void { this.log('trace', args) }
  silent (): void {}

  child (bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.child$().child(bindings, options)
  }

  private log (level: Level, args: unknown[]): void {
    if (this.made === undefined && this.parent.isLevelEnabled?.(level) === false) return
    const child = this.child$()
    ;(child[level] as (...args: unknown[]) => void).apply(child, args)
  }

  private child$ (): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings)
    return this.made
  }
}

/**
 * The logger of each request of the hub's routes: with the request's id, as a child of one
 * logger that holds the hub's serializers (the `token` query parameter redacted), made only when
 * the request logs a line. Passing the serializers to each request's child would copy them on
 * every request, every subscribe included.
 */
function hubRequestLogger (logger: FastifyBaseLogger, bindings: Bindings, options: { level?: string }): FastifyBaseLogger {
  if (options.level !== undefined) return logger.child(bindings, { ...options, serializers: logSerializers })
  let serializing = serializingLoggers.get(logger)
  if (serializing === undefined || serializing.level !== logger.level) {
    serializing = logger.child({}, { serializers: logSerializers })
    serializingLoggers.set(logger, serializing)
  }
  return new RequestLogger(serializing, bindings) as unknown as FastifyBaseLogger
}

/** The request logs of the hub's scope (registered inside it: fastify-plugin keeps the factory there). */
export default fp(async function requestLogPlugin (fastify) {
  fastify.setChildLoggerFactory(hubRequestLogger)
}, { name: 'sse-hub-request-log', fastify: '5.x' })
