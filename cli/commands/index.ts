import type { CommandModule } from 'yargs';
import type { GlobalFlags } from '../context.ts';
import { evalCommand } from './eval.ts';
import { runCommand } from './run.ts';
import { statusCommand } from './status.ts';

/** Every CLI command. Each module imports its heavy code inside its handler. */
export const COMMANDS = [runCommand, evalCommand, statusCommand] as unknown as CommandModule<GlobalFlags, any>[];
