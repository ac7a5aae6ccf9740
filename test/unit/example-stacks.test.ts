import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { ROOT, logicalIdOf, rdsExampleStack, resourcesOf } from '../support/stacks';

describe('RDS example stack (a small Postgres to try the product out)', () => {
  const { stack } = rdsExampleStack();
  const resources = resourcesOf(Template.fromStack(stack));
  const id = (type: string, prefix: string) => logicalIdOf(resources, type, prefix);
  const group = (prefix: string) => ({ 'Fn::GetAtt': [id('AWS::EC2::SecurityGroup', prefix), 'GroupId'] });

  it('runs a t4g.micro PostgreSQL 17, encrypted, private, single-AZ, 1 day of backups, no deletion protection, snapshot on delete', () => {
    // Prepare
    const db = resources[id('AWS::RDS::DBInstance', 'Database')];
    const { DBInstanceClass, Engine, EngineVersion, StorageEncrypted, PubliclyAccessible, MultiAZ, BackupRetentionPeriod, DeletionProtection, DeleteAutomatedBackups, StorageType, AllocatedStorage } = db.Properties;
    // Assess
    assert.deepStrictEqual(
      { DBInstanceClass, Engine, EngineVersion, StorageEncrypted, PubliclyAccessible, MultiAZ, BackupRetentionPeriod, DeletionProtection, DeleteAutomatedBackups, StorageType, AllocatedStorage, DeletionPolicy: (db as { DeletionPolicy?: string }).DeletionPolicy },
      { DBInstanceClass: 'db.t4g.micro', Engine: 'postgres', EngineVersion: '17', StorageEncrypted: true, PubliclyAccessible: false, MultiAZ: false, BackupRetentionPeriod: 1, DeletionProtection: false, DeleteAutomatedBackups: true, StorageType: 'gp3', AllocatedStorage: '20', DeletionPolicy: 'Snapshot' },
    );
  });

  it('gives the construct the instance\'s attached secret (RDS JSON), rotated every 30 days, and nothing else of the database', () => {
    // Prepare
    const attachment = id('AWS::SecretsManager::SecretTargetAttachment', 'DatabaseSecretAttachment');
    const functions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.DATABASE_SECRET_ARN);
    const rotation = Object.values(resources).find((r) => r.Type === 'AWS::SecretsManager::RotationSchedule')!;
    // Assess
    assert.deepStrictEqual(functions.map((f) => f.Properties.Environment.Variables.DATABASE_SECRET_ARN), Array(4).fill({ Ref: attachment }));
    assert.deepStrictEqual([rotation.Properties.SecretId, rotation.Properties.RotationRules, rotation.Properties.HostedRotationLambda.RotationType], [{ Ref: attachment }, { ScheduleExpression: 'rate(30 days)' }, 'PostgreSQLSingleUser']);
  });

  it('lets only the functions (backfill, seed, rotation) reach the database, and them only the database and the endpoints', () => {
    // Act
    const ingress = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress').map((r) => [r.Properties.GroupId, r.Properties.SourceSecurityGroupId, r.Properties.FromPort, r.Properties.ToPort]);
    const egress = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::SecurityGroupEgress').map((r) => [r.Properties.GroupId, r.Properties.DestinationSecurityGroupId, r.Properties.FromPort]);
    const inline = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::SecurityGroup').flatMap((r) => [...(r.Properties.SecurityGroupIngress ?? []), ...(r.Properties.SecurityGroupEgress ?? [])].map((rule: { CidrIp?: string }) => rule.CidrIp));
    const vpcConfigs = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.VpcConfig).map((r) => r.Properties.VpcConfig.SecurityGroupIds);
    // Assess
    const [clients, database, rotation, endpoints] = [group('DatabaseClients'), group('DatabaseSg'), group('RotationSg'), group('EndpointSg')];
    const sort = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();
    assert.deepStrictEqual(sort(ingress), sort([[database, clients, 5432, 5432], [database, rotation, 5432, 5432], [endpoints, clients, 443, 443], [endpoints, rotation, 443, 443]]));
    assert.deepStrictEqual(sort(egress), sort([[clients, database, 5432], [clients, endpoints, 443], [rotation, database, 5432], [rotation, endpoints, 443]]));
    assert.deepStrictEqual(inline.filter((cidr) => cidr !== '255.255.255.255/32'), []);
    assert.deepStrictEqual(vpcConfigs, Array(4).fill([clients]));
  });

  it('has no route to the internet: isolated subnets, SQS, Secrets Manager and CloudWatch through interface endpoints', () => {
    // Act
    const types = new Set(Object.values(resources).map((r) => r.Type));
    const endpoints = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::VPCEndpoint').map((r) => r.Properties.ServiceName['Fn::Join'][1][2]);
    // Assess
    assert.deepStrictEqual([types.has('AWS::EC2::InternetGateway'), types.has('AWS::EC2::NatGateway'), endpoints.sort()], [false, false, ['.monitoring', '.secretsmanager', '.sqs']]);
  });
});

describe('CDK app (bin/app.ts)', () => {
  const synth = async (context: Record<string, string>) => {
    const outdir = mkdtempSync(join(tmpdir(), 'backfill-app-'));
    const run = promisify(execFile)(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      cwd: ROOT,
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:bundling-stacks': [] }) },
    });
    try {
      await run;
      return readdirSync(outdir).filter((f) => f.endsWith('.template.json')).sort();
    } catch (error) {
      return [String((error as { stderr?: string }).stderr).split('\n').find((l) => l.startsWith('Error:')) ?? 'failed'];
    }
  };

  it('synthesizes the import example by default and the RDS example with -c example=rds, both past cdk-nag, offline', async () => {
    // Act
    const results = await Promise.all([synth({}), synth({ example: 'rds' }), synth({ example: 'aurora' })]);
    // Assess
    assert.deepStrictEqual(results, [
      ['AdaptiveBackfillExample.template.json'],
      ['AdaptiveBackfillRdsExample.template.json'],
      ['Error: -c example must be import (the default) or rds; got "aurora"'],
    ]);
  });
});
