import { STATUS_CODES } from 'node:http'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import { Kind, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { FastifyError, FastifySchemaValidationError } from 'fastify'
import fp from 'fastify-plugin'
import { badJson, HubError, repeatedParameter } from '../lib/base/errors.js'
import { afterSchemaOf } from '../lib/core/schemas.js'
import { parseJson } from '../lib/wire/json.js'

export interface ErrorsPluginOptions {
  /** For the 413 message. */
  bodyLimit: number
}

/**
 * One error format for the hub's routes: `{statusCode, code, error, message}`. Client errors keep
 * a message that names the problem (`events/2/type: "registered" is reserved`); unexpected server
 * errors say only "Internal Server Error" and are logged. Schemas are checked by TypeBox without type
 * coercion of bodies, whatever the embedding app configured for its own routes; a query
 * parameter given twice is named as such. JSON bodies are parsed here too: any JSON value is a
 * valid payload, `{"__proto__": ...}` included (the hub never merges a payload into an object).
 */
export default fp<ErrorsPluginOptions>(async function errorsPlugin (fastify, { bodyLimit }) {
  fastify.setValidatorCompiler((route) => {
    const typeBox = route.httpPart !== 'body' && onlyStrings(route.schema)
      ? checkOnly(route.schema as TSchema)
      : TypeBoxValidatorCompiler(route as Parameters<typeof TypeBoxValidatorCompiler>[0])
    // What the schema cannot say, checked once it accepted the value, which the parsed one replaces.
    const after = afterSchemaOf(route.schema)
    const validate = after === undefined
      ? typeBox
      : (value: unknown) => {
          // The type provider's validator answers `{ value }` or `{ error }`, never a boolean.
          const result = typeBox(value) as { value?: unknown, error?: Error }
          if (result.error !== undefined) return result
          try {
            return { value: after(result.value) }
          } catch (err) {
            if (!(err instanceof HubError)) throw err
            return { error: err }
          }
        }
    // Fastify replaces the request's headers with a validator's `{ value }`, and from then on every
    // read of `request.headers` copies them: a check that changed nothing answers `true` instead.
    if (route.httpPart === 'headers') {
      return (headers: unknown) => {
        const result = validate(headers) as { value?: unknown, error?: Error | FastifySchemaValidationError[] }
        return result.error === undefined && result.value === headers ? true : result
      }
    }
    if (route.httpPart !== 'querystring') return validate
    // The route's own parameters: another route's, given twice or not, are ignored.
    const names = Object.keys((route.schema as { properties?: object }).properties ?? {})
    return (query: Record<string, unknown>) => {
      for (const name of names) {
        if (Array.isArray(query[name])) return { error: repeatedParameter(name) }
      }
      return validate(query)
    }
  })

  fastify.removeContentTypeParser('application/json')
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(badJson(), undefined)
    try {
      done(null, parseJson(body as string))
    } catch (err) {
      done(badJson((err as Error).message), undefined)
    }
  })

  fastify.setSchemaErrorFormatter((errors, dataVar) => {
    const [first] = errors
    const path = first.instancePath.replace(/^\//, '')
    const message = first.message === 'Expected required property' ? 'is required' : first.message ?? 'is invalid'
    return new Error(`${path === '' ? dataVar : path}: ${message}`)
  })

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
    // A HubError's 5xx is a known state (the broker is down) that says what to do; any other is a bug.
    if (statusCode >= 500 && !(error instanceof HubError)) {
      request.log.error({ err: error }, 'request failed')
      return reply.code(500).send({ statusCode: 500, code: 'SSE_HUB_INTERNAL', error: 'Internal Server Error', message: 'Internal Server Error' })
    }
    const message = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
      ? `body: larger than the limit of ${bodyLimit} bytes`
      : error.message
    return reply.code(statusCode).send({ statusCode, code: error.code ?? 'SSE_HUB_ERROR', error: STATUS_CODES[statusCode], message })
  })
}, { name: 'sse-hub-errors', fastify: '5.x' })

/**
 * Whether every property of an object schema is a string. A query or headers object holds only
 * strings (a repeated parameter is refused before), so TypeBox's conversion, which the type
 * provider runs on them, would change nothing and only copy the object, on every subscribe.
 */
function onlyStrings (schema: unknown): boolean {
  const { [Kind]: kind, properties } = schema as { [Kind]?: string, properties?: Record<string, { [Kind]?: string }> }
  return kind === 'Object' && properties !== undefined && Object.values(properties).every((property) => property[Kind] === 'String')
}

/** The type provider's validator without the conversion: the same answers, `{ value }` or the same `{ error }` list. */
function checkOnly (schema: TSchema): ReturnType<typeof TypeBoxValidatorCompiler> {
  const check = TypeCompiler.Compile(schema)
  return (value: unknown) => check.Check(value)
    ? { value }
    : { error: [...check.Errors(value)].map((error) => ({ message: error.message, instancePath: error.path })) as unknown as FastifySchemaValidationError[] }
}
