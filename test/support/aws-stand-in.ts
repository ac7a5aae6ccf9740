import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the stand-in saw it: where it went and what its SigV4 signature says about region and identity. */
export interface RecordedRequest {
  readonly host: string;
  readonly service: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly action: string;
}

export const STAND_IN_ACCOUNT = '000000000000';
/** The error every request the stand-in does not answer gets: where LocalStack would take over. */
export const STOPS_HERE = 'StandInStopsHere';

/**
 * An HTTP endpoint on 127.0.0.1 standing in for LocalStack up to the first request that would need it: it answers
 * who-am-I (STS GetCallerIdentity), says no stack exists (CloudFormation DescribeStacks) and creates the secret
 * (Secrets Manager CreateSecret); everything else is refused with StandInStopsHere. It records every request, and
 * every proxy request (an absolute URL or CONNECT: something trying to go elsewhere) separately.
 */
export async function startAwsStandIn() {
  const requests: RecordedRequest[] = [];
  const proxied: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      if (/^https?:\/\//.test(req.url ?? '')) {
        proxied.push(`${req.method} ${req.url}`);
        return reply(res, 502, 'text/plain', 'the stand-in is not a proxy');
      }
      const request = record(req, body);
      requests.push(request);
      answer(res, request, body);
    });
  });
  server.on('connect', (req: IncomingMessage, socket) => {
    proxied.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    proxied,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function record(req: IncomingMessage, body: string): RecordedRequest {
  // Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/REGION/SERVICE/aws4_request, ...
  const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(req.headers.authorization ?? '');
  const target = req.headers['x-amz-target'];
  const action = typeof target === 'string' ? target.split('.').pop()! : (new URLSearchParams(body).get('Action') ?? `${req.method} ${req.url}`);
  return { host: req.headers.host ?? '', service: scope?.[3] ?? 'unsigned', region: scope?.[2] ?? 'unsigned', accessKeyId: scope?.[1] ?? 'unsigned', action };
}

function answer(res: ServerResponse, request: RecordedRequest, body: string): void {
  const { service, action, region } = request;
  if (service === 'sts' && action === 'GetCallerIdentity') {
    return reply(res, 200, 'text/xml', `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::${STAND_IN_ACCOUNT}:root</Arn><UserId>AKIAIOSFODNN7EXAMPLE</UserId><Account>${STAND_IN_ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></GetCallerIdentityResponse>`);
  }
  if (service === 'cloudformation' && action === 'DescribeStacks') {
    const stack = new URLSearchParams(body).get('StackName') ?? '';
    return queryError(res, 'ValidationError', `Stack with id ${stack} does not exist`);
  }
  if (service === 'secretsmanager' && action === 'CreateSecret') {
    const name = (JSON.parse(body) as { Name: string }).Name;
    return reply(res, 200, 'application/x-amz-json-1.1', JSON.stringify({ ARN: `arn:aws:secretsmanager:${region}:${STAND_IN_ACCOUNT}:secret:${name}-AbCdEf`, Name: name }));
  }
  const message = `the stand-in endpoint stops at ${service} ${action}: LocalStack would take over here`;
  if (service === 'secretsmanager' || service === 'states') return reply(res, 400, 'application/x-amz-json-1.1', JSON.stringify({ __type: STOPS_HERE, message }));
  return queryError(res, STOPS_HERE, message);
}

function queryError(res: ServerResponse, code: string, message: string): void {
  reply(res, 400, 'text/xml', `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>stand-in</RequestId></ErrorResponse>`);
}

function reply(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.statusCode = status;
  res.setHeader('content-type', contentType);
  res.setHeader('x-amzn-requestid', 'stand-in');
  res.end(text);
}
