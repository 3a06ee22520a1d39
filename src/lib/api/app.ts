import {existsSync, readFileSync, statSync} from 'node:fs'
import {dirname, isAbsolute, join, resolve} from 'node:path'

import {UsageError} from '../errors.js'

export interface GitRemote {
  name: string
  url: string
}

export interface ResolvedApp {
  name: string
  source: 'flag' | 'env' | 'git-remote'
  /** The Scalingo git remote used (or found) in the working tree, if any: the region detection reads its host. */
  remote?: GitRemote
}

/** Walks up from `cwd` to the directory holding `.git`; returns the git directory (following `gitdir:` files). */
export function findGitDir(cwd: string = process.cwd()): string | undefined {
  let dir = resolve(cwd)
  for (;;) {
    const candidate = join(dir, '.git')
    if (existsSync(candidate)) {
      if (statSync(candidate).isDirectory()) return candidate
      // Worktrees and submodules: `.git` is a file saying `gitdir: <path>`.
      const match = /^gitdir:\s*(.+)$/m.exec(readFileSync(candidate, 'utf8'))
      if (match) return isAbsolute(match[1].trim()) ? match[1].trim() : resolve(dir, match[1].trim())
    }

    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** Remotes from .git/config (linked worktrees keep theirs in the common dir). */
export function readGitRemotes(gitDir: string): GitRemote[] {
  let configDir = gitDir
  const commondir = join(gitDir, 'commondir')
  if (existsSync(commondir)) configDir = resolve(gitDir, readFileSync(commondir, 'utf8').trim())
  let text: string
  try {
    text = readFileSync(join(configDir, 'config'), 'utf8')
  } catch {
    return []
  }

  const remotes: GitRemote[] = []
  let current: string | undefined
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim()
    const section = /^\[\s*([^\s\]"]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]/.exec(line)
    if (section) {
      current = section[1].toLowerCase() === 'remote' ? section[2] : undefined
      continue
    }

    const url = /^url\s*=\s*(.*)$/i.exec(line)
    // The first url of a remote is the one the Scalingo CLI looks at.
    if (current !== undefined && url && !remotes.some((r) => r.name === current)) {
      remotes.push({name: current, url: url[1].replace(/^"(.*)"$/, '$1').trim()})
    }
  }

  return remotes
}

/** Only remotes that point at a Scalingo git host count, as in the Scalingo CLI. */
export function isScalingoRemoteUrl(url: string): boolean {
  return /.*scalingo\.com:.*\.git/.test(url)
}

/** `git@ssh.osc-fr1.scalingo.com:my-app.git` and `ssh://git@ssh.osc-fr1.scalingo.com:2200/my-app.git` -> `my-app`. */
export function appNameFromRemoteUrl(url: string): string {
  const last = url.split(/[:/]/).filter(Boolean).pop() ?? ''
  return last.replace(/\.git$/, '')
}

/** The SSH host of a git remote URL (scp-like or ssh://), without user or port. */
export function sshHostFromRemoteUrl(url: string): string | undefined {
  if (/^[a-z+]+:\/\//i.test(url)) {
    try {
      return new URL(url).hostname || undefined
    } catch {
      return undefined
    }
  }

  const scp = /^(?:[^@/]+@)?([^:/]+):/.exec(url)
  return scp?.[1]
}

/** The Scalingo remote named `remote` (default `scalingo`) or `scalingo-<remote>`, from the repository around `cwd`. */
export function findScalingoRemote(remote = 'scalingo', cwd: string = process.cwd()): GitRemote | undefined {
  const gitDir = findGitDir(cwd)
  if (!gitDir) return undefined
  const remotes = readGitRemotes(gitDir).filter((r) => isScalingoRemoteUrl(r.url))
  return remotes.find((r) => r.name === remote) ?? remotes.find((r) => r.name === `scalingo-${remote}`)
}

/** App precedence: -a/--app, then SCALINGO_APP, then the Scalingo git remote. */
export function resolveApp(
  options: {app?: string; remote?: string; cwd?: string; env?: NodeJS.ProcessEnv} = {},
): ResolvedApp {
  const env = options.env ?? process.env
  const remote = findScalingoRemote(options.remote ?? 'scalingo', options.cwd)
  const fromEnv = env.SCALINGO_APP?.trim()
  // oclif fills --app from SCALINGO_APP too, so an equal value means the environment provided it.
  if (options.app && options.app !== fromEnv) return {name: options.app, source: 'flag', remote}
  if (fromEnv) return {name: fromEnv, source: 'env', remote}
  if (remote) {
    const name = appNameFromRemoteUrl(remote.url)
    if (name) return {name, source: 'git-remote', remote}
  }

  const remoteName = options.remote ?? 'scalingo'
  throw new UsageError('No app specified and none could be detected.', [
    'Pass the app name with -a/--app (or set SCALINGO_APP)',
    `Or run inside a git repository with a Scalingo remote named '${remoteName}' (e.g. git@ssh.osc-fr1.scalingo.com:my-app.git), or choose the remote with -r/--remote`,
  ])
}
