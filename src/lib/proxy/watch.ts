import {type FSWatcher, readdirSync, watch} from 'node:fs'
import {join, relative, sep} from 'node:path'

/** Directories and files whose changes never warrant a restart: dependencies, VCS, build output, our own files. */
const IGNORED_NAMES = new Set(['node_modules', '.git', 'dist', 'coverage', 'tmp', 'log', 'logs'])

export const WATCH_DEBOUNCE_MS = 300

export function isIgnoredPath(relativePath: string): boolean {
  return relativePath.split(sep).some((part) => IGNORED_NAMES.has(part) || part.startsWith('.') || part.endsWith('~'))
}

export interface AppWatcher {
  close(): void
}

/**
 * Watches an app directory recursively and calls `onChange` with the changed files (relative paths),
 * once a burst of changes has been quiet for `debounceMs`. Ignored directories are never even
 * descended into (a node_modules tree can hold more directories than inotify allows watches), so
 * this walks the tree itself with one non-recursive fs.watch per directory, adding new directories
 * as they appear.
 */
export function watchAppDir(
  root: string,
  onChange: (files: string[]) => void,
  options: {debounceMs?: number} = {},
): AppWatcher {
  const debounceMs = options.debounceMs ?? WATCH_DEBOUNCE_MS
  const watchers = new Map<string, FSWatcher>()
  let changed = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let closed = false

  const flush = () => {
    timer = undefined
    const files = [...changed].sort()
    changed = new Set()
    if (files.length > 0 && !closed) onChange(files)
  }

  const watchDir = (dir: string) => {
    if (closed || watchers.has(dir)) return
    let watcher: FSWatcher
    try {
      watcher = watch(dir, {persistent: false}, (_type, filename) => {
        if (!filename) return
        const path = join(dir, filename.toString())
        const rel = relative(root, path)
        if (isIgnoredPath(rel)) return
        changed.add(rel)
        clearTimeout(timer)
        timer = setTimeout(flush, debounceMs)
        // A new directory (or one renamed in): watch it and what it already holds.
        walk(path)
      })
    } catch {
      return // gone already, or unreadable: nothing to watch
    }

    watcher.on('error', () => {
      watcher.close()
      watchers.delete(dir)
    })
    watchers.set(dir, watcher)
  }

  const walk = (dir: string) => {
    let entries
    try {
      entries = readdirSync(dir, {withFileTypes: true})
    } catch {
      return // a file, or a directory that vanished
    }

    watchDir(dir)
    for (const entry of entries) {
      if (entry.isDirectory() && !isIgnoredPath(relative(root, join(dir, entry.name)))) walk(join(dir, entry.name))
    }
  }

  walk(root)
  return {
    close() {
      closed = true
      clearTimeout(timer)
      for (const watcher of watchers.values()) watcher.close()
      watchers.clear()
    },
  }
}
