/**
 * An error a client caused, with the HTTP status it maps to and a stable `code`.
 * The message names the offending value, since it is returned to the client as is.
 */
export class HubError extends Error {
  readonly statusCode: number
  readonly code: string

  constructor (statusCode: number, code: string, message: string) {
    super(message)
    this.name = 'HubError'
    this.statusCode = statusCode
    this.code = code
  }
}

/** Invalid configuration: the message names the option as the user spelled it. */
export class ConfigError extends Error {
  readonly code = 'SSE_HUB_BAD_CONFIG'

  constructor (message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}
