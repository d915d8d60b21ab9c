/** The subset of a pino/Fastify logger the hub uses. */
export interface Logger {
  debug (msg: string): void
  info (msg: string): void
  warn (msg: string): void
}

/** A logger that drops everything: the default of a hub built without one. */
export const silentLogger: Logger = { debug () {}, info () {}, warn () {} }
