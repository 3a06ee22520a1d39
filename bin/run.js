#!/usr/bin/env node
import {compareCommandIdsWithoutIcu, importOclif} from '../dist/lib/startup.js'

compareCommandIdsWithoutIcu()
const {execute} = await importOclif()
await execute({dir: import.meta.url})
