/** Every CLI command, in the order `kexue --help` lists them. */
import type { Command } from '../command.js';
import { canCommand } from './can.js';
import { cosentCommand } from './cosent.js';
import { encodeCommand } from './encode.js';
import { searchCommand } from './search.js';
import { experimentCommand } from './experiment.js';
import { labCommand } from './lab.js';
import { reportCommand } from './report.js';
import { diagnoseCommand } from './diagnose.js';
import { pretrainCommand } from './pretrain.js';
import { ganCommand } from './gan.js';
import { gradpenaltyCommand } from './gradpenalty.js';
import { densityCommand } from './density.js';
import { mlmEvalCommand } from './mlmeval.js';
import { finetuneCommand } from './finetune.js';
import { exportHfCommand, importHfCommand } from './hf.js';

export const commands: Command[] = [
  canCommand,
  cosentCommand,
  encodeCommand,
  experimentCommand,
  labCommand,
  reportCommand,
  searchCommand,
  diagnoseCommand,
  pretrainCommand,
  ganCommand,
  gradpenaltyCommand,
  densityCommand,
  mlmEvalCommand,
  finetuneCommand,
  importHfCommand,
  exportHfCommand,
];
