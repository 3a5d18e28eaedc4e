// Drives Debian's Chromium against a running doorstep (started by
// tests/api/browser.rs): signs in with the password, adds a passkey from
// the dashboard through Chromium's virtual authenticator, signs out, signs
// in with the passkey, and then signs in by password with JavaScript off.
//
//   node tests/browser/passkey.mjs http://localhost:PORT/ PASSWORD
//
// Exits 0 when every step did what it should; otherwise prints the step,
// the page it was on and the browser's console, and exits 1.
import { chromium } from "playwright-core";

const [base, password] = process.argv.slice(2);
if (!base || !password) {
  console.error("usage: node passkey.mjs BASE_URL PASSWORD");
  process.exit(2);
}
const url = (path) => new URL(path, base).toString();
const STEP_MS = 15000;

let step = "start";
const log = [];
function say(text) {
  step = text;
  console.log(`- ${text}`);
}
function check(cond, what) {
  if (!cond) throw new Error(`expected ${what}`);
}

async function signInWithPassword(page) {
  await page.goto(url("/login"));
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(url("/dashboard")), page.click("form#login button[type=submit]")]);
}

async function signOut(page) {
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith("/dashboard")),
    page.click("form[action='/logout'] button"),
  ]);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let page;
try {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  page = await context.newPage();
  page.on("console", (m) => log.push(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => log.push(`page error: ${e.message}`));

  say("virtual authenticator (CTAP2, internal, resident keys, user verification)");
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  say("sign in with the password");
  await signInWithPassword(page);

  say("add a passkey from the dashboard (a fresh sign-in)");
  await page.fill("#passkey-label", "virtual authenticator");
  await Promise.all([
    page.waitForURL(url("/dashboard")).then(() => page.waitForSelector("li.passkey")),
    page.click("#add-passkey-button"),
  ]);
  const label = await page.textContent("li.passkey .passkey-label");
  check(label === "virtual authenticator", `the new passkey listed by its name, got ${JSON.stringify(label)}`);
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  check(credentials.length === 1 && credentials[0].isResidentCredential, "one resident credential on the authenticator");

  say("sign out");
  await signOut(page);

  say("sign in with the passkey the browser offers by itself (autofill)");
  // Chromium's virtual authenticator answers a conditional request at once,
  // as if the owner had picked the passkey from the password field's list.
  // The answer can come while /login is still loading, so the navigation
  // that loads it may be aborted by the one that signs in: wait for where
  // the browser ends up, not for either navigation.
  await page.goto(url("/login"), { waitUntil: "commit" }).catch((e) => {
    // Chromium says ERR_ABORTED, Playwright "interrupted by another
    // navigation" or "detached", depending on when the sign-in wins.
    if (!/ERR_ABORTED|detached|interrupted by another navigation/.test(String(e))) throw e;
  });
  await page.waitForSelector("form[action='/logout']");
  check(page.url() === url("/dashboard"), `the dashboard after autofill, got ${page.url()}`);
  // From here on autofill is reported unavailable, so only the button asks,
  // and it lists the owner's passkeys (the path a security key without room
  // takes). Set before signing out: sign-out lands on the login page, whose
  // autofill would otherwise sign straight back in.
  await page.addInitScript(() => {
    PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
  });
  await signOut(page);

  say("sign in with the passkey (the button)");
  await page.goto(url("/login"));
  await page.waitForSelector("#passkey-button:not([hidden])");
  // Not a pause to see whether anything happens, which a slow machine
  // outwaits: the page itself says autofill is off, so only the button asks.
  check(
    (await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable())) === false,
    "autofill reported unavailable on this page",
  );
  check(page.url() === url("/login"), "no sign-in before the button is pressed");
  await Promise.all([page.waitForURL(url("/dashboard")), page.click("#passkey-button")]);
  await page.waitForSelector("form[action='/logout']");
  const used = await page.textContent("li.passkey");
  check(!/last used never/i.test(used), `the passkey marked as used, got ${JSON.stringify(used)}`);
  const after = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  check(after.credentials[0].signCount >= 2, "the authenticator to have signed twice");
  await signOut(page);
  await context.close();

  say("sign in by password with JavaScript off");
  const plain = await browser.newContext({ javaScriptEnabled: false });
  plain.setDefaultTimeout(STEP_MS);
  page = await plain.newPage();
  await page.goto(url("/login"));
  check(await page.isHidden("#passkey-button"), "no passkey button without JavaScript");
  await signInWithPassword(page);
  await page.waitForSelector("form[action='/logout']");
  await plain.close();

  console.log("browser passkey test passed");
} catch (e) {
  console.error(`FAILED at step "${step}": ${e && e.stack ? e.stack : e}`);
  if (page) {
    try {
      console.error(`page: ${page.url()}`);
      console.error((await page.content()).slice(0, 4000));
    } catch (_) {
      // The page is gone; the message above says why.
    }
  }
  for (const line of log) console.error(line);
  process.exitCode = 1;
} finally {
  await browser.close();
}
