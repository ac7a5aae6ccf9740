import { executionInputSchema, sampleExecutionInput } from '../../core/input-schema';
import { knobReference } from '../../core/knob-reference';
import { parseFlags } from '../args';
import type { Command } from '../command';

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'print the JSON Schema of the execution input (or --sample: an input to start from)',
  usage: `usage: backfill schema [--sample | --knobs]

Prints the JSON Schema (draft 2020-12) of the execution input, generated from the same rules Init checks
(schemas/execution-input.schema.json is this output). What a schema cannot say, Init checks too: fields that
must agree (batch.minSize <= batch.maxSize, ...) and that the job named is the deployed one.

  --sample             print a sample input instead (the built-in defaults; the construct's own is its
                       SampleExecutionInput output)
  --knobs              print the knob reference as Markdown (docs/knobs.md is this output)`,
  async run(argv) {
    const { values } = parseFlags(argv, { sample: { type: 'boolean' }, knobs: { type: 'boolean' } });
    if (values.knobs) {
      process.stdout.write(knobReference());
      return 0;
    }
    console.log(JSON.stringify(values.sample ? sampleExecutionInput() : executionInputSchema(), null, 2));
    return 0;
  },
};
