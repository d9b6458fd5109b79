// jsforce (npm) against roster's emulator: query with autoFetch across pages,
// sobject('User').create / update, and Salesforce's error codes.
// Usage: node tests/clients/jsforce_client.mjs path/to/roster   (jsforce resolvable from NODE_PATH)
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const jsforce = require("jsforce");

function start(roster) {
  const proc = spawn(roster, ["emulate", "--synthetic", "25000", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout });
  const env = {};
  return new Promise((resolve, reject) => {
    proc.on("exit", () => reject(new Error("emulator exited early")));
    lines.on("line", (line) => {
      const [name, ...rest] = line.replace(/^export /, "").split("=");
      env[name] = rest.join("=").replace(/^'|'$/g, "");
      if (Object.keys(env).length === 5) resolve({ proc, env });
    });
  });
}

async function connect(env) {
  const base = env.ROSTER_SALESFORCE_LOGIN_URL;
  const body = new URLSearchParams({ grant_type: "client_credentials", client_id: "3MVG9synthetic.roster", client_secret: env.SF_CLIENT_SECRET });
  const token = await (await fetch(`${base}/services/oauth2/token`, { method: "POST", body })).json();
  return new jsforce.Connection({ instanceUrl: token.instance_url, accessToken: token.access_token, version: "59.0" });
}

const checks = {
  async user_id_from_the_token(_conn, env) {
    // jsforce's own OAuth2 flow reads the user and org ids from the token's identity URL.
    const conn = new jsforce.Connection({
      oauth2: { loginUrl: env.ROSTER_SALESFORCE_LOGIN_URL, clientId: "3MVG9synthetic.roster", clientSecret: env.SF_CLIENT_SECRET },
      version: "59.0",
    });
    const info = await conn.authorize({ grant_type: "client_credentials" });
    assert.match(info.id, /^005[A-Za-z0-9]{15}$/);
    assert.match(info.organizationId, /^00D[A-Za-z0-9]{15}$/);
    const me = await conn.query(`SELECT Username FROM User WHERE Id = '${info.id}'`);
    assert.equal(me.records[0].Username, "integration@synthetic.example.dev1");
    const identity = await conn.identity();
    assert.equal(identity.user_id, info.id);
    assert.equal(identity.username, "integration@synthetic.example.dev1");
  },
  async query_autofetch_pages(conn) {
    const records = [];
    await new Promise((resolve, reject) => {
      conn.query("SELECT Id, Username FROM User")
        .on("record", (r) => records.push(r))
        .on("end", resolve)
        .on("error", reject)
        .run({ autoFetch: true, maxFetch: 10000 });
    });
    // every tenth of 25,000 users, and the integration user
    assert.equal(records.length, 2501);
    assert.equal(new Set(records.map((r) => r.Id)).size, 2501);
  },
  async create_update_and_errors(conn) {
    const profile = (await conn.query("SELECT Id FROM Profile WHERE Name = 'Standard User'")).records[0].Id;
    const user = {
      Username: "js.client@synthetic.example.dev1", LastName: "Client", Email: "js@example.com", Alias: "jsc",
      TimeZoneSidKey: "America/Los_Angeles", LocaleSidKey: "en_US", EmailEncodingKey: "UTF-8",
      LanguageLocaleKey: "en_US", ProfileId: profile,
    };
    const created = await conn.sobject("User").create(user);
    assert.equal(created.success, true);
    assert.equal(created.id.length, 18);
    const updated = await conn.sobject("User").update({ Id: created.id, Title: "Tester" });
    assert.equal(updated.success, true);
    const read = await conn.sobject("User").retrieve(created.id);
    assert.equal(read.Title, "Tester");
    await assert.rejects(conn.sobject("User").create(user), (e) => e.errorCode === "DUPLICATE_USERNAME");
    const many = await conn.sobject("User").create(
      [{ ...user, Username: "js.c1@synthetic.example.dev1", Alias: "jsc1" }, { ...user, Username: "js.c2@synthetic.example.dev1", Alias: "jsc2" }],
      { allOrNone: true },
    );
    assert.deepEqual(many.map((r) => r.success), [true, true]);
    // What a real org refuses: a value outside a restricted picklist, an address that is none.
    await assert.rejects(
      conn.sobject("User").create({ ...user, Username: "js.bad@synthetic.example.dev1", LanguageLocaleKey: "de_DE" }),
      (e) => e.errorCode === "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    );
    await assert.rejects(
      conn.sobject("User").create({ ...user, Username: "js.bad@synthetic.example.dev1", Email: "nobody" }),
      (e) => e.errorCode === "INVALID_EMAIL_ADDRESS",
    );
  },
};

const { proc, env } = await start(process.argv[2]);
let passed = 0, failed = 0;
try {
  const conn = await connect(env);
  for (const [name, check] of Object.entries(checks)) {
    try {
      await check(conn, env);
      console.log(`ok   ${name}`);
      passed++;
    } catch (e) {
      console.log(`FAIL ${name}\n${e.stack}`);
      failed++;
    }
  }
} finally {
  proc.kill();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
