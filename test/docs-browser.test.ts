import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import t from 'tap'
import { build } from './helper.js'

// The API documentation page (`GET /docs`) in a real browser: it renders under its
// Content-Security-Policy, with no violation, and its "Try it out" reaches the hub.

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
const TIMEOUT = 15_000

t.test('Swagger UI renders under the page\'s policy, without a violation, and its "Try it out" is answered', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`${CHROMIUM} not found: the browser test needs Debian's chromium package (apt-get install chromium)`)
    return
  }
  const hub = await build(t, { prefix: '/events', insecure: false })
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  page.setDefaultTimeout(TIMEOUT)
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console.error: ${message.text()}`) })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  const outside: string[] = []
  page.on('request', (request) => { if (!request.url().startsWith(hub.url) && !request.url().startsWith('data:')) outside.push(request.url()) })
  // Violations are reported to the page as events; collected from before its first script runs.
  await page.addInitScript(() => {
    const seen: string[] = []
    Object.assign(window, { cspViolations: seen })
    document.addEventListener('securitypolicyviolation', (event) => { seen.push(`${event.violatedDirective}: ${event.blockedURI}`) })
  })

  const response = await page.goto(`${hub.url}/events/docs`)
  t.match(response?.headers()['content-security-policy'], /frame-ancestors 'none'/)
  await page.waitForSelector('.opblock-summary-path')
  t.match(await page.textContent('.info .title'), /^fastify-sse-hub/, 'the document is read')
  const paths = await page.$$eval('.opblock-summary-path', (elements) => elements.map((element) => element.textContent))
  t.ok(paths.includes('/events/health'), 'the operations are listed')
  t.ok(await page.isVisible('.auth-wrapper button.authorize'), 'the Authorize button, for the token')

  // "Try it out" on GET /events/health: a request from the page to the hub, allowed by connect-src.
  const health = page.locator('.opblock', { has: page.locator('.opblock-summary-path', { hasText: /^\/events\/health$/ }) })
  await health.locator('.opblock-summary').click()
  await health.locator('button.try-out__btn').click()
  await health.locator('button.execute').click()
  await health.locator('.live-responses-table tbody .response-col_status').first().waitFor()
  t.match(await health.locator('.live-responses-table tbody .response-col_status').first().textContent(), /200/, 'the hub answered the page')

  const violations = await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)
  t.same(violations, [], 'no Content-Security-Policy violation')
  t.same(problems, [], 'no console error or page error')
  t.same(outside, [], 'no request leaves the hub')
})
