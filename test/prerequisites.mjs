// What the tests run besides Node (npm test's pretest): Chromium for the browser tests, redis-server
// for the cluster tests (they start their own), nginx for the test of the shipped nginx file, openssl
// for the test certificates. Run as root on Debian or Ubuntu, it installs what is missing with
// apt-get; else it prints one line saying what to install. It never fails: the tests that need a missing program fail and say so.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'

const NEEDS = [
  { binary: 'chromium', apt: 'chromium', for: 'the browser tests' },
  { binary: 'redis-server', apt: 'redis-server', for: 'the cluster tests' },
  { binary: 'nginx', apt: 'nginx', for: 'the nginx test' },
  { binary: 'openssl', apt: 'openssl', for: 'the test certificates of the TLS tests' }
]

// A list of binaries to treat as missing, to try the install step on a machine that has them.
const pretend = (process.env.SSE_HUB_TEST_PRETEND_MISSING ?? '').split(',')

/** Whether `binary` is on the PATH or where Debian puts daemons (/usr/sbin is not on every user's PATH). */
function found (binary) {
  if (pretend.includes(binary)) return false
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'].filter((dir) => dir !== '')
  return dirs.some((dir) => existsSync(join(dir, binary)))
}

const missing = () => NEEDS.filter((need) => !found(need.binary))

if (missing().length > 0 && process.getuid?.() === 0 && found('apt-get')) {
  const packages = missing().map((need) => need.apt)
  console.log(`installing what the tests need: apt-get install ${packages.join(' ')}`)
  // Waits for another apt-get's lock rather than failing at once.
  const apt = (args) => execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  try {
    apt(['update', '-qq'])
    apt(['install', '-y', '-qq', ...packages])
  } catch {
    // The line below names what is still missing.
  }
  pretend.length = 0
}

const left = missing()
if (left.length > 0) {
  console.log(`the tests need ${left.map((need) => `${need.binary} (${need.for})`).join(', ')}: apt-get install ${left.map((need) => need.apt).join(' ')}`)
}
