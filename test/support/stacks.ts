import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AdaptiveBackfillRdsExampleStack, type RdsExampleStackProps } from '../../lib/example-rds-stack';
import { AdaptiveBackfillExampleStack, type ExampleStackProps } from '../../lib/example-stack';

export const ROOT = join(import.meta.dirname, '..', '..');

/** The project's cdk.json context (feature flags), as `cdk synth` uses it. */
export function projectContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
}

/** The example stack, bundling skipped unless asked for. */
export function exampleStack(props: ExampleStackProps = {}, options: { bundle?: boolean; outdir?: string } = {}) {
  const app = new App({ outdir: options.outdir, context: { ...projectContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) } });
  const stack = new AdaptiveBackfillExampleStack(app, 'Example', props);
  return { app, stack };
}

/** The RDS example stack (a small Postgres to try the product out), bundling skipped unless asked for. */
export function rdsExampleStack(props: RdsExampleStackProps = {}, options: { bundle?: boolean; outdir?: string } = {}) {
  const app = new App({ outdir: options.outdir, context: { ...projectContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) } });
  const stack = new AdaptiveBackfillRdsExampleStack(app, 'RdsExample', props);
  return { app, stack };
}

export type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

export function resourcesOf(template: Template): Resources {
  return (template.toJSON() as { Resources: Resources }).Resources;
}

export function logicalIdOf(resources: Resources, type: string, prefix: string): string {
  const ids = Object.keys(resources).filter((id) => resources[id].Type === type && id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} starting with ${prefix}; found ${ids.join(', ') || 'none'}`);
  return ids[0];
}
