/** Every CLI command, in the order `kexue --help` lists them. */
import type { Command } from '../command.js';
import { canCommand } from './can.js';
import { experimentCommand } from './experiment.js';
import { labCommand } from './lab.js';
import { reportCommand } from './report.js';

export const commands: Command[] = [canCommand, experimentCommand, labCommand, reportCommand];
