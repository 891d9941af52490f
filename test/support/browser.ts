import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Where browser suites leave their screenshots (ignored by git). */
export const TEST_OUTPUT = join(__dirname, '..', '..', 'test-output');

export interface TestBrowser {
  browser: Browser;
  /** A new context (its own cookies) with one page, at this viewport; every request it makes is recorded. */
  page(viewport?: { width: number; height: number }): Promise<Page>;
  /**
   * Requests to any host but the service's, refused and recorded, and any load the page's Content-Security-Policy
   * refused: a suite expects this to stay empty.
   */
  foreignRequests: string[];
  close(): Promise<void>;
}

/**
 * Debian's Chromium driven by playwright-core, headless, for one suite. Every page routes all its requests:
 * the service's own go through, anything for another host is aborted and recorded (no CDN, no fonts, no
 * beacons), so a suite can fail on one.
 */
export async function launchBrowser(baseUrl: string): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  const own = new URL(baseUrl).host;
  const foreignRequests: string[] = [];
  const contexts: BrowserContext[] = [];
  return {
    browser,
    foreignRequests,
    async page(viewport = { width: 1280, height: 900 }) {
      const context = await browser.newContext({ viewport, baseURL: baseUrl });
      contexts.push(context);
      await context.route('**/*', async (route) => {
        const url = route.request().url();
        let host: string | null;
        try {
          host = new URL(url).host;
        } catch {
          host = null;
        }
        // data: and blob: URLs never leave the browser; anything with a host must be the service.
        if (url.startsWith('data:') || url.startsWith('blob:') || host === own) return route.continue();
        foreignRequests.push(url);
        return route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      // A load the page's policy refused never reaches the route above: the browser reports it on the console.
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) foreignRequests.push(`refused by the policy: ${message.text()}`);
      });
      return page;
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
    },
  };
}

/** A screenshot of the whole page under test-output/<folder>/<name>.png; returns its path. */
export async function screenshot(page: Page, folder: string, name: string): Promise<string> {
  const dir = join(TEST_OUTPUT, folder);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
