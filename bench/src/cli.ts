#!/usr/bin/env node
/** Entry of the `edgetta` bin (`pnpm edgetta ...` from the repository root). */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2));
