/*
 * What bin/run.js (the standalone CLI; as a plugin, the host CLI starts itself) needs besides oclif's execute():
 * our own Node version warning and the load options that describe the standalone CLI's topics.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import type * as Oclif from '@oclif/core'

export const MIN_NODE_MAJOR = 20

/**
 * A warning for a Node older than the one we need, else undefined. oclif checks Node against its own engines
 * range (older than ours), so it would not say that scalingo-tcp needs more.
 */
export function nodeVersionWarning(version = process.versions.node): string | undefined {
  const major = Number(version.split('.')[0])
  return major < MIN_NODE_MAJOR
    ? `scalingo-tcp needs Node.js ${MIN_NODE_MAJOR} or later; this is ${version}.`
    : undefined
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
