/*
 * Start-up tuning for the standalone CLI (bin/run.js; as a plugin, the host CLI starts itself). Two costs every
 * command paid before doing anything, found with --cpu-prof (README, Performance):
 * - @oclif/core, when imported, checks that Node satisfies its own engines range with semver: about 5 ms of
 *   loading. Ours is stricter (>= 20) and needs no library, so we check it and skip oclif's.
 * - oclif sorts every plugin's command ids with localeCompare at each start, and the first call makes ICU
 *   build its collator: about 6 ms. For strings of lowercase ASCII letters, '-' and ':' (command ids),
 *   English and POSIX collation is code point order, so those are compared directly and everything else
 *   (other strings, explicit locales or options, other default locales) still goes to ICU.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import type * as Oclif from '@oclif/core'

export const MIN_NODE_MAJOR = 20

/** A warning for a Node older than the one we need, else undefined. */
export function nodeVersionWarning(version = process.versions.node): string | undefined {
  const major = Number(version.split('.')[0])
  return major < MIN_NODE_MAJOR ? `scalingo-tcp needs Node.js ${MIN_NODE_MAJOR} or later; this is ${version}.` : undefined
}

/** Imports @oclif/core without its engine check (ours is nodeVersionWarning), leaving the environment as it was. */
export async function importOclif(env: NodeJS.ProcessEnv = process.env): Promise<typeof Oclif> {
  const warning = nodeVersionWarning()
  if (warning) process.emitWarning(warning)
  const before = env.OCLIF_DISABLE_ENGINE_WARNING
  env.OCLIF_DISABLE_ENGINE_WARNING = '1'
  try {
    return await import('@oclif/core')
  } finally {
    if (before === undefined) delete env.OCLIF_DISABLE_ENGINE_WARNING
    else env.OCLIF_DISABLE_ENGINE_WARNING = before
  }
}

const COMMAND_ID = /^[a-z:-]*$/

/** Whether the default collation (ICU's default locale comes from these variables) orders command ids by code point. */
export function collatesByCodePoint(env: NodeJS.ProcessEnv = process.env): boolean {
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || ''
  return locale === '' || locale === 'C' || locale === 'POSIX' || locale.startsWith('C.') || locale.startsWith('en')
}

type LocaleCompare = typeof String.prototype.localeCompare

/** localeCompare with command ids compared directly; `icu` for everything else. */
export function commandIdCompare(icu: LocaleCompare): LocaleCompare {
  return function (this: string, that: string, locales?: string | string[], options?: Intl.CollatorOptions): number {
    const self = String(this)
    if (locales === undefined && options === undefined && typeof that === 'string' && COMMAND_ID.test(self) && COMMAND_ID.test(that)) {
      return self < that ? -1 : self > that ? 1 : 0
    }

    return icu.call(this, that, locales, options)
  }
}

/** Installs commandIdCompare as String.prototype.localeCompare when the default locale allows it. */
export function compareCommandIdsWithoutIcu(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!collatesByCodePoint(env)) return false
  // eslint-disable-next-line no-extend-native
  String.prototype.localeCompare = commandIdCompare(String.prototype.localeCompare)
  return true
}

/**
 * Topics only the standalone CLI describes. `addons` is a topic of every PaaS CLI we plug into: oclif lets a
 * plugin's topic description replace the host's (Config.loadTopics), so package.json describes only our own
 * topics and the host keeps its `addons` text (the Heroku CLI's "tools and services for..."). Standalone, without
 * one, oclif would describe `addons` by the summary of its first command.
 */
export const STANDALONE_TOPICS: Record<string, {description: string}> = {
  addons: {description: "Manage the app's addons."},
}

/**
 * oclif's load options for bin/run.js (only the standalone CLI runs it): our package.json, read here instead of
 * by oclif, with STANDALONE_TOPICS added. `root` is the package's directory.
 */
export function standaloneLoadOptions(root: URL): {root: string; pjson: Oclif.Interfaces.PJSON} {
  const dir = fileURLToPath(root)
  const pjson = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Oclif.Interfaces.PJSON
  pjson.oclif = {...pjson.oclif, topics: {...STANDALONE_TOPICS, ...pjson.oclif.topics}}
  return {root: dir, pjson}
}
