#!/usr/bin/env node
// Entry point of the `hapg` command: the compiled CLI lives in dist/ (built by `npm ci` / `npm run build`).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv);
