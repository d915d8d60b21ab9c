import { createVerifier } from 'fast-jwt'
import t from 'tap'
import { Authenticator, type Grant } from '../../lib/auth/auth.js'
import { mintToken } from '../../lib/cli/token.js'
import { configFromArgs, configFromEnv, resolveConfig } from '../../lib/config/config.js'
import { build } from '../helper.js'
import { bearer, forge, hmac, keys, mint, now } from './keys.js'

// A secret, a key or the publish token rotated with an overlap: the hub holds the old and the new
// value, every one verifies, and `sse-hub token` signs with the first.

const batch = { events: [{ channelName: 'orders', type: 'created', payload: 1 }] }
const publisher = { hub: { publish: ['*'], subscribe: ['*'] } }

t.test('two JWT secrets: tokens of either are accepted, a third secret\'s are not, the token\'s own problems are named', async (t) => {
  const hub = await build(t, { insecure: false, jwtSecret: [keys.secret, keys.otherSecret] })
  const publish = async (token: string) => await hub.publish(batch, bearer(token))
  t.equal((await publish(mint(keys.secret, publisher))).statusCode, 200, 'signed with the first')
  t.equal((await publish(mint(keys.otherSecret, publisher))).statusCode, 200, 'signed with the second')
  const third = await publish(mint('a-third-secret-that-the-hub-does-not-hold', publisher))
  t.match(third, { statusCode: 401, json: { message: 'token: has an invalid signature' } })
  const expired = await publish(mint(keys.otherSecret, { ...publisher, exp: now() - 60 }))
  t.match(expired, { statusCode: 401, json: { message: 'token: has expired' } }, 'the second key verifies the signature, then the expiry speaks')
})

t.test('two public keys, RSA and EC: both verify, and no HMAC over either PEM does', async (t) => {
  const auth = new Authenticator({ jwtPublicKey: [keys.rsa.publicKey, keys.ec.publicKey] })
  t.same((auth.authenticate(mint(keys.rsa.privateKey, { hub: { subscribe: ['a'] } }, 'RS256'), false) as Grant).subscribe.covers('a'), true)
  t.same((auth.authenticate(mint(keys.ec.privateKey, { hub: { subscribe: ['b'] } }, 'ES256'), false) as Grant).subscribe.covers('b'), true)
  t.throws(() => auth.authenticate(mint(keys.otherEc.privateKey, { hub: {} }, 'ES256'), false), { statusCode: 401, message: 'token: has an invalid signature' })
  for (const pem of [keys.rsa.publicKey, keys.ec.publicKey]) {
    const confused = forge({ alg: 'HS256', typ: 'JWT' }, { hub: { publish: ['*'] } }, hmac(pem))
    t.throws(() => auth.authenticate(confused, false), { statusCode: 401, message: /^token: is signed with an algorithm this hub does not accept \(it accepts RS256, RS384, RS512, ES256\)$/ })
  }
})

t.test('two publish tokens: both publish, another does not', async (t) => {
  const hub = await build(t, { insecure: false, publishToken: ['old-publish-token-0123', 'new-publish-token-4567'] })
  for (const token of ['old-publish-token-0123', 'new-publish-token-4567']) {
    t.equal((await hub.publish(batch, bearer(token))).statusCode, 200, token)
  }
  t.equal((await hub.publish(batch, bearer('other-publish-token-89'))).statusCode, 401)
})

t.test('the environment and flags take several values, comma-separated; an error names the value and never shows it', async (t) => {
  const fromEnv = configFromEnv({ SSE_HUB_JWT_SECRET: `${keys.secret}, ${keys.otherSecret}`, SSE_HUB_PUBLISH_TOKEN: 'old-publish-token-0123' })
  t.same(fromEnv.jwtSecret, [keys.secret, keys.otherSecret])
  t.same(fromEnv.publishToken, ['old-publish-token-0123'], 'one value is a list of one')
  t.same(configFromArgs([`--jwt-secret=${keys.secret},${keys.otherSecret}`]).config.jwtSecret, [keys.secret, keys.otherSecret])
  t.same(resolveConfig({ jwtSecret: keys.secret }).jwtSecret, [keys.secret], 'a plugin option as one string')
  t.same(resolveConfig({ jwtSecret: `${keys.secret},${keys.otherSecret}` }).jwtSecret, [`${keys.secret},${keys.otherSecret}`], 'a plugin option string is one value: commas split text sources only')

  const short = 'too-short'
  t.throws(() => configFromEnv({ SSE_HUB_JWT_SECRET: `${keys.secret},${short}` }),
    { message: 'invalid SSE_HUB_JWT_SECRET (value 2 of 2): Expected string length greater or equal to 32, got 9 characters (not shown: the value is secret)' })
  t.throws(() => resolveConfig({ jwtPublicKey: [keys.rsa.publicKey, keys.rsa.privateKey] }), { message: /^invalid option jwtPublicKey \(value 2 of 2\): this is a private key/ })
  t.throws(() => resolveConfig({ publishToken: [] }), { message: 'invalid option publishToken: expected 1 to 8 values, got 0' })
  t.throws(() => configFromEnv({ SSE_HUB_PUBLISH_TOKEN: Array.from({ length: 9 }, (_, i) => `publish-token-number-${i}`).join(',') }), { message: 'invalid SSE_HUB_PUBLISH_TOKEN: expected 1 to 8 values, got 9' })
})

t.test('sse-hub token signs with the first secret, and takes a private key that pairs with any of the public keys', async (t) => {
  const env = { SSE_HUB_JWT_SECRET: `${keys.otherSecret},${keys.secret}` }
  const token = mintToken(['--publish', 'orders'], env)
  t.ok(createVerifier({ key: keys.otherSecret })(token), 'verified by the first secret')
  t.throws(() => createVerifier({ key: keys.secret })(token), 'not signed with the second')

  const publicKeys = `${keys.ec.publicKey},${keys.rsa.publicKey}`
  const signed = mintToken(['--subscribe', 'news', `--private-key=${keys.rsa.privateKey}`], { SSE_HUB_JWT_PUBLIC_KEY: publicKeys })
  t.ok((new Authenticator({ jwtPublicKey: [keys.ec.publicKey, keys.rsa.publicKey] }).authenticate(signed, false) as Grant).subscribe.covers('news'))
  t.throws(() => mintToken(['--subscribe', 'news', `--private-key=${keys.otherRsa.privateKey}`], { SSE_HUB_JWT_PUBLIC_KEY: publicKeys }),
    { message: /^invalid --private-key: it is not the private key of any of the hub's jwtPublicKey values/ })
})
