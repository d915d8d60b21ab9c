import { STATUS_CODES } from 'node:http'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { FastifyError } from 'fastify'
import fp from 'fastify-plugin'

export interface ErrorsPluginOptions {
  /** For the 413 message. */
  bodyLimit: number
}

/**
 * One error format for the hub's routes: `{statusCode, code, error, message}`. Client errors keep
 * a message that names the problem (`events/2/type: "registered" is reserved`); server errors say
 * only "Internal Server Error" and are logged. Schemas are checked by TypeBox without type
 * coercion of bodies, whatever the embedding app configured for its own routes.
 */
export default fp<ErrorsPluginOptions>(async function errorsPlugin (fastify, { bodyLimit }) {
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler)

  fastify.setSchemaErrorFormatter((errors, dataVar) => {
    const [first] = errors
    const path = first.instancePath.replace(/^\//, '')
    const message = first.message === 'Expected required property' ? 'is required' : first.message ?? 'is invalid'
    return new Error(`${path === '' ? dataVar : path}: ${message}`)
  })

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
    if (statusCode >= 500) {
      request.log.error({ err: error }, 'request failed')
      return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
    }
    const message = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
      ? `body: larger than the limit of ${bodyLimit} bytes`
      : error.message
    return reply.code(statusCode).send({ statusCode, code: error.code, error: STATUS_CODES[statusCode], message })
  })
}, { name: 'sse-hub-errors', fastify: '5.x' })
