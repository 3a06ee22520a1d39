#!/usr/bin/env node
import {compareCommandIdsWithoutIcu, importOclif, standaloneLoadOptions} from '../dist/lib/startup.js'

compareCommandIdsWithoutIcu()
const {execute} = await importOclif()
await execute({loadOptions: standaloneLoadOptions(new URL('..', import.meta.url))})
