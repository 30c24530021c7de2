#!/usr/bin/env node
// The `trade` command: loads the TypeScript entry point through tsx, so `npx trade …` works
// from a checkout without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./trade.ts');
