import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`); `npm test` installs it (scripts/ensure-chromium.sh). */
export const CHROMIUM = '/usr/bin/chromium';

// What this machine's chromium needs headless, as root, behind a closed network (no background connections).
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-extensions', '--hide-scrollbars', '--mute-audio',
];

export interface PageInspection<T> {
  /**
   * `console.error: ...` for console.error calls and the browser's own error entries (CSP violations, failed
   * loads), `exception: ...` for uncaught exceptions, `failed load: URL ...` for requests that failed.
   */
  readonly errors: string[];
  /** Every URL the page requested, the page itself included. */
  readonly requests: string[];
  /** What `expression` evaluated to in the loaded page. */
  readonly value: T;
}

/**
 * Opens an HTML file in headless chromium, driven by playwright-core (Debian's chromium, a fresh profile), and
 * evaluates `expression` in it once it has loaded. Throws when chromium is missing: never skips.
 */
export async function inspectPage<T>(file: string, expression: string, timeoutMs = 60_000): Promise<PageInspection<T>> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); npm test does`);
  const profile = mkdtempSync(join(tmpdir(), 'backfill-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: timeoutMs });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(timeoutMs);
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => { if (message.type() === 'error') errors.push(`console.error: ${message.text()}`); });
    page.on('pageerror', (error) => errors.push(`exception: ${error.message}`));
    page.on('request', (request) => requests.push(request.url()));
    page.on('requestfailed', (request) => errors.push(`failed load: ${request.url()} ${request.failure()?.errorText ?? ''}`.trim()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const value = (await page.evaluate(expression)) as T;
    return { errors, requests, value };
  } finally {
    await context.close();
    // Chromium's helper processes can still be writing to the profile for a moment after the browser exits
    // (ENOTEMPTY): retry, and leave a stray temp directory rather than fail the test over housekeeping.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    } catch (error) {
      process.emitWarning(`could not remove chromium's profile ${profile}: ${(error as Error).message}`);
    }
  }
}
