#!/usr/bin/env node
import module from 'node:module'

import {nodeVersionWarning, standaloneLoadOptions} from '../dist/lib/startup.js'

// Node >= 22.1 keeps the code V8 compiles for our modules and oclif's between runs. With no directory it honours
// NODE_COMPILE_CACHE (where) and NODE_DISABLE_COMPILE_CACHE (off), else uses Node's own directory in the system
// temp dir; when that cannot be written it returns a status and the CLI runs uncached, silently. It must run
// before @oclif/core is imported.
module.enableCompileCache?.()
const warning = nodeVersionWarning()
if (warning) process.emitWarning(warning)
const {execute} = await import('@oclif/core')
await execute({loadOptions: standaloneLoadOptions(new URL('..', import.meta.url))})
