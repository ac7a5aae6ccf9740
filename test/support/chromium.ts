import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Debian's chromium (`apt-get install chromium`); .ci/run installs it. */
export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-extensions', '--hide-scrollbars', '--mute-audio', '--remote-debugging-pipe',
];

export interface PageInspection<T> {
  /** console.error calls, uncaught exceptions, and browser log entries at level error (CSP violations, failed loads). */
  readonly errors: string[];
  /** Every URL the page requested, the page itself included. */
  readonly requests: string[];
  /** What `expression` evaluated to in the loaded page. */
  readonly value: T;
}

interface Message {
  readonly id?: number;
  readonly method?: string;
  readonly params?: Record<string, any>;
  readonly result?: Record<string, any>;
  readonly error?: { message: string };
  readonly sessionId?: string;
}

/**
 * Opens an HTML file in headless chromium, driven over the DevTools protocol on a pipe (no WebSocket, no extra
 * package), and evaluates `expression` in it once it has loaded. Throws when chromium is missing: never skips.
 */
export async function inspectPage<T>(file: string, expression: string, timeoutMs = 60_000): Promise<PageInspection<T>> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does`);
  const profile = mkdtempSync(join(tmpdir(), 'backfill-chromium-'));
  const child = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000); });
  const exited = new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`chromium exited with ${code}: ${stderr}`))));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const cdp = makeConnection(child.stdio[3] as Writable, child.stdio[4] as Readable);
  try {
    return await Promise.race([exited, inspect<T>(cdp, pathToFileURL(file).href, expression)]);
  } finally {
    clearTimeout(timer);
    await Promise.race([cdp.send('Browser.close').catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    // Chromium's helper processes can still be writing to the profile for a moment after the browser exits
    // (ENOTEMPTY): retry, and leave a stray temp directory rather than fail the test over housekeeping.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    } catch (error) {
      process.emitWarning(`could not remove chromium's profile ${profile}: ${(error as Error).message}`);
    }
  }
}

async function inspect<T>(cdp: Connection, url: string, expression: string): Promise<PageInspection<T>> {
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const errors: string[] = [];
  const requests: string[] = [];
  let loaded!: () => void;
  const load = new Promise<void>((resolve) => { loaded = resolve; });
  cdp.listen((message) => {
    if (message.sessionId !== sessionId) return;
    const p = message.params ?? {};
    if (message.method === 'Runtime.consoleAPICalled' && p.type === 'error') errors.push(`console.error: ${p.args.map((a: { value?: unknown; description?: string }) => a.value ?? a.description).join(' ')}`);
    if (message.method === 'Runtime.exceptionThrown') errors.push(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`);
    if (message.method === 'Log.entryAdded' && p.entry.level === 'error') errors.push(`log: ${p.entry.text}`);
    if (message.method === 'Network.requestWillBeSent') requests.push(p.request.url);
    if (message.method === 'Page.loadEventFired') loaded();
  });
  for (const domain of ['Runtime', 'Log', 'Page', 'Network']) await cdp.send(`${domain}.enable`, {}, sessionId);
  await cdp.send('Page.navigate', { url }, sessionId);
  await load;
  const evaluated = await cdp.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId);
  if (evaluated.exceptionDetails) throw new Error(`evaluating in the page failed: ${evaluated.exceptionDetails.exception?.description ?? evaluated.exceptionDetails.text}`);
  return { errors, requests, value: evaluated.result.value as T };
}

interface Connection {
  send(method: string, params?: Record<string, unknown>, sessionId?: string): Promise<Record<string, any>>;
  listen(fn: (message: Message) => void): void;
}

/** The DevTools protocol over --remote-debugging-pipe: JSON messages, each ended by a NUL byte. */
function makeConnection(input: Writable, output: Readable): Connection {
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: Record<string, any>) => void; reject: (e: Error) => void }>();
  const listeners: Array<(message: Message) => void> = [];
  let buffer = '';
  output.setEncoding('utf8');
  output.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\0')) >= 0) {
      const message = JSON.parse(buffer.slice(0, end)) as Message;
      buffer = buffer.slice(end + 1);
      if (message.id !== undefined) {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(`${message.error.message}`));
        else waiter?.resolve(message.result ?? {});
      } else {
        for (const listener of listeners) listener(message);
      }
    }
  });
  return {
    send(method, params = {}, sessionId) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
      });
    },
    listen(fn) {
      listeners.push(fn);
    },
  };
}
