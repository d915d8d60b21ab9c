/**
 * A summary of V8 CPU profiles (`node --cpu-prof`): where the samples fell, by function and by
 * file, so that a run shows where the hub spends its time without opening a profiler.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const REPO = join(import.meta.dirname, '..')

function where (url: string): string {
  if (url === '') return '(native/VM)'
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url
  if (path.startsWith('node:')) return path
  const inRepo = relative(REPO, path)
  const modules = inRepo.lastIndexOf('node_modules/')
  if (modules >= 0) return inRepo.slice(modules + 13)
  return inRepo
}

/** Self time by function and by file of every .cpuprofile in `dir`, as text; '' when none. */
export function summariseProfiles (dir: string, top = 25, server = 'hub'): string {
  if (!existsSync(dir)) return ''
  const byFunction = new Map<string, number>()
  const byFile = new Map<string, number>()
  let total = 0
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
    profile.samples.forEach((id, i) => {
      const frame = nodes.get(id)?.callFrame
      if (frame === undefined || frame.functionName === '(idle)') return
      const us = profile.timeDeltas[i] ?? 0
      const file = where(frame.url)
      const name = `${frame.functionName || '(anonymous)'}  ${file}${frame.url === '' ? '' : `:${frame.lineNumber + 1}`}`
      byFunction.set(name, (byFunction.get(name) ?? 0) + us)
      const module = file.includes('/') && !file.startsWith('node:') ? file.split('/').slice(0, file.startsWith('@') ? 2 : 1).join('/') : file
      byFile.set(module, (byFile.get(module) ?? 0) + us)
      total += us
    })
  }
  if (total === 0) return ''
  const list = (map: Map<string, number>, n: number): string[] => [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => `    ${(100 * us / total).toFixed(1).padStart(5)} %  ${name}`)
  return [
    `  ${server} CPU profile (${(total / 1e6).toFixed(2)} s busy, idle excluded), self time by function:`,
    ...list(byFunction, top),
    '  by module or file:',
    ...list(byFile, 15)
  ].join('\n')
}
