import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { knobReference } from '../../core/knob-reference';
import { resolveSettings } from '../../core/settings';

const KNOBS_DOC = join(import.meta.dirname, '..', '..', 'docs', 'knobs.md');

describe('the knob reference', () => {
  it('is shipped as docs/knobs.md, identical to the one generated from the schema', () => {
    // Prepare
    const shipped = readFileSync(KNOBS_DOC, 'utf8');
    // Act
    const generated = knobReference();
    // Assess: regenerate with `npx backfill schema --knobs > docs/knobs.md`
    assert.equal(shipped, generated);
  });

  it('lists every knob with its built-in default', () => {
    // Prepare
    const defaults = resolveSettings();
    // Act
    const doc = knobReference();
    // Assess
    assert.match(doc, /\| `batch\.targetSeconds` \| number 0\.05 to 600 \| `2` \|/);
    assert.match(doc, new RegExp(`\\| \`health\\.lockWaits\\.criticalSeconds\` \\| number 0 to 86,400 \\| \`${defaults.health.lockWaits.criticalSeconds}\` \\|`));
    assert.match(doc, /\| `health\.strategy` \| `any-critical`, `weighted`, `fraction-failing`, `custom` \| `"any-critical"` \|/);
    assert.doesNotMatch(doc, /`carry|`runId`|`job`/);
  });
});
