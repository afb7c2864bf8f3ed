import type { CommandModule } from 'yargs';
import type { GlobalFlags } from '../context.ts';
import { doctorCommand } from './doctor.ts';
import { evalCommand } from './eval.ts';
import { initCommand } from './init.ts';
import { lintCommand } from './lint.ts';
import { opsCommand } from './ops.ts';
import { runCommand } from './run.ts';
import { statusCommand } from './status.ts';
import { watchCommand } from './watch.ts';

/** Every CLI command. Each module imports its heavy code inside its handler. */
export const COMMANDS = [runCommand, evalCommand, statusCommand, lintCommand, watchCommand, opsCommand, initCommand, doctorCommand] as unknown as CommandModule<GlobalFlags, any>[];
