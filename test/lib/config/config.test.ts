import t from 'tap'
import { configFromArgs, configFromEnv, defaultMaxConnections, FILE_RESERVE, flagName, helpText, HubConfigSchema, openFileLimit, resolveConfig } from '../../../lib/config/config.js'

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
  t.throws(() => resolveConfig({ subscribeAuth: true }), { message: /^invalid option subscribeAuth: it needs jwtSecret, jwtPublicKey or jwksUrl/ })
  const config = resolveConfig()
  t.match(config, { insecure: false, subscribeAuth: false, connectRateLimit: 0, publishRateLimit: 0 })
  t.equal(config.publishToken, undefined, 'generated at start by the plugin, not here')
})

t.test('a boolean flag is bare, takes true or false, or is turned off by --no-<flag>', async (t) => {
  const cases: Array<[string[], Record<string, boolean>]> = [
    [['--dashboard=false'], { dashboard: false }],
    [['--dashboard=true'], { dashboard: true }],
    [['--dashboard=0', '--insecure=1'], { dashboard: false, insecure: true }],
    [['--no-dashboard'], { dashboard: false }],
    [['--dashboard'], { dashboard: true }],
    [['--no-dashboard', '--dashboard'], { dashboard: true }]
  ]
  for (const [args, config] of cases) t.same(configFromArgs(args).config, config, args.join(' '))
  t.throws(() => configFromArgs(['--dashboard=off']), { code: 'SSE_HUB_BAD_CONFIG', message: /^invalid --dashboard: must be true or false \(or 1 or 0\), got "off"$/ })
  t.throws(() => configFromArgs(['--no-dashboard=true']), { message: /^invalid --no-dashboard: it takes no value/ })
  t.throws(() => configFromArgs(['--no-port']), { message: /Unknown option '--no-port'/, code: 'SSE_HUB_BAD_CONFIG' })
})

t.test('a negative number after a flag is refused for its range, not taken for a flag', async (t) => {
  t.throws(() => configFromArgs(['--history-size', '-1']), { message: /^invalid --history-size: Expected integer to be greater or equal to 0, got "-1"$/ })
  t.throws(() => configFromArgs(['--max-connections', '-20', '--insecure']), { message: /^invalid --max-connections: Expected integer to be greater or equal to 1, got "-20"$/ })
})

t.test('an error about a secret option never shows its value, whoever gave it', async (t) => {
  const secrets = Object.entries(HubConfigSchema.properties).filter(([, schema]) => (schema as { secret?: boolean }).secret === true).map(([option]) => option)
  t.same(secrets.sort(), ['jwtSecret', 'metricsToken', 'publishToken', 'redisUrl', 'webhookSecret'])
  for (const option of secrets) {
    // Too short for a token or a key, and not a redis:// URL.
    const value = option === 'redisUrl' ? 'http://u:Pa55w0rd@x' : 'Pa55w0rd'
    const schema = HubConfigSchema.properties[option as keyof typeof HubConfigSchema.properties] as unknown as { env: string }
    const attempts: Array<[string, () => unknown]> = [
      [`--${flagName(option)}`, () => configFromArgs([`--${flagName(option)}`, value])],
      [schema.env, () => configFromEnv({ [schema.env]: value })],
      [`option ${option}`, () => resolveConfig({ [option]: value })]
    ]
    for (const [label, attempt] of attempts) {
      const err = t.throws(attempt, { code: 'SSE_HUB_BAD_CONFIG' }, label) as unknown as Error
      t.match(err.message, `invalid ${label}: `, label)
      t.match(err.message, `got ${value.length} characters (not shown: the value is secret)`, label)
      t.notMatch(err.message, 'Pa55w0rd', label)
    }
  }
})

t.test('a check of several options names each as the user gave it: flag, environment variable or plugin option', async (t) => {
  t.throws(() => resolveConfig({ subscribeAuth: true }, { subscribeAuth: 'flag' }), { message: /^invalid --subscribe-auth: it needs --jwt-secret, --jwt-public-key or --jwks-url to verify/ })
  t.throws(() => resolveConfig({ subscribeAuth: true }, { subscribeAuth: 'env' }), { message: /^invalid SSE_HUB_SUBSCRIBE_AUTH: it needs SSE_HUB_JWT_SECRET, SSE_HUB_JWT_PUBLIC_KEY or SSE_HUB_JWKS_URL to verify/ })
  t.throws(() => resolveConfig({ headersTimeout: 40000 }, { headersTimeout: 'flag' }),
    { message: /^invalid --headers-timeout: 40000 ms is longer than --request-timeout \(30000 ms\)/ })
  t.throws(() => resolveConfig({ headersTimeout: 5000, requestTimeout: 1000 }, { headersTimeout: 'flag', requestTimeout: 'env' }),
    { message: /^invalid --headers-timeout: 5000 ms is longer than SSE_HUB_REQUEST_TIMEOUT \(1000 ms\)/ })
  t.throws(() => resolveConfig({ trustProxy: 'proxy' }, { trustProxy: 'env' }), { message: /^invalid SSE_HUB_TRUST_PROXY: "proxy" is not an IP address/ })
  t.throws(() => resolveConfig({ headersTimeout: 40000 }), { message: /^invalid option headersTimeout: 40000 ms is longer than requestTimeout/ })
})

t.test('--help gives each option one default', async (t) => {
  const rows = helpText().split('\n').filter((line) => line.startsWith('  --'))
  t.equal(rows.length, Object.keys(HubConfigSchema.properties).length + 2)
  for (const row of rows.slice(0, -2)) t.equal(row.split('(default: ').length, 2, row)
  t.match(helpText(), /--metrics-token .*\(default: none, \/metrics is open\)/)
  t.match(helpText(), new RegExp(`--max-connections .*\\(default: the open-file limit less ${FILE_RESERVE}, ${defaultMaxConnections()} here\\)`))
})
