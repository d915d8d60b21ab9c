import t from 'tap'
import { configFromArgs, configFromEnv, defaultMaxConnections, FILE_RESERVE, flagName, openFileLimit, resolveConfig } from '../../../lib/config/config.js'

t.test('defaults as documented', async (t) => {
  const config = resolveConfig()
  t.match(config, {
    port: 9090,
    host: '0.0.0.0',
    corsOrigins: '*',
    heartbeatInterval: 15000,
    retry: 2000,
    historySize: 1000,
    historyTtl: 3600000,
    maxChannelsPerSubscription: 64,
    maxEventsPerPublish: 1000,
    bodyLimit: 102400,
    maxBufferedBytes: 1048576,
    logLevel: 'info'
  })
  const limit = openFileLimit()
  t.equal(config.maxConnections, limit === undefined ? 10000 : limit - FILE_RESERVE)
  t.equal(defaultMaxConnections(), config.maxConnections)
})

t.test('environment variables are converted and named in errors', async (t) => {
  t.same(configFromEnv({ PORT: '8080', SSE_HUB_MAX_CHANNELS: '5', LOG_LEVEL: 'warn', UNRELATED: 'x', SSE_HUB_RETRY: '' }),
    { port: 8080, maxChannelsPerSubscription: 5, logLevel: 'warn' })
  t.throws(() => configFromEnv({ PORT: '70000' }), { message: /^invalid PORT: Expected integer to be less or equal to 65535, got "70000"/ })
})

t.test('flags use the kebab-case option names', async (t) => {
  t.equal(flagName('maxChannelsPerSubscription'), 'max-channels-per-subscription')
  t.same(configFromArgs(['--history-size', '10', '--cors-origins=https://a.test,https://b.test']), {
    help: false,
    version: false,
    config: { historySize: 10, corsOrigins: 'https://a.test,https://b.test' }
  })
  t.equal(configFromArgs(['-h']).help, true)
  t.equal(configFromArgs(['--version']).version, true)
  t.equal(configFromArgs(['-v']).version, true)
  t.throws(() => configFromArgs(['--history-size', '1.5']), { message: /^invalid --history-size: Expected integer, got "1.5"/ })
  t.throws(() => configFromArgs(['stray']), { message: /Unexpected argument 'stray'/ })
})

t.test('plugin options are checked by name', async (t) => {
  t.equal(resolveConfig({ maxConnections: 5, prefix: '/x' }).maxConnections, 5)
  t.throws(() => resolveConfig({ retry: -1 }), { message: /^invalid option retry: Expected integer to be greater or equal to 0, got -1/ })
  t.equal(resolveConfig({ retry: '100' }).retry, 100, 'a numeric string is converted, as from the environment')
})

t.test('security options: booleans as bare flags or 1/true/0/false, key checks naming the option', async (t) => {
  t.same(configFromArgs(['--insecure', '--subscribe-auth', '--publish-rate-limit', '5']).config, { insecure: true, subscribeAuth: true, publishRateLimit: 5 })
  t.same(configFromEnv({ SSE_HUB_INSECURE: '1', SSE_HUB_SUBSCRIBE_AUTH: 'false', SSE_HUB_CONNECT_RATE_LIMIT: '10' }),
    { insecure: true, subscribeAuth: false, connectRateLimit: 10 })
  t.throws(() => configFromEnv({ SSE_HUB_INSECURE: 'yes' }), { message: /^invalid SSE_HUB_INSECURE: Expected boolean, got "yes"/ })
  t.throws(() => configFromEnv({ SSE_HUB_JWT_SECRET: 'short' }), { message: /^invalid SSE_HUB_JWT_SECRET: Expected string length greater or equal to 32/ })
  t.throws(() => configFromArgs(['--jwt-public-key', '/no/such/file.pem']), { message: /^invalid --jwt-public-key: neither a PEM key nor a readable file/ })
  t.throws(() => resolveConfig({ subscribeAuth: true }), { message: /^invalid option subscribeAuth: it needs jwtSecret or jwtPublicKey/ })
  const config = resolveConfig()
  t.match(config, { insecure: false, subscribeAuth: false, connectRateLimit: 0, publishRateLimit: 0 })
  t.equal(config.publishToken, undefined, 'generated at start by the plugin, not here')
})
