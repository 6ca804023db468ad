// End-to-end test of devapi's REST data API with the official SDK,
// @upstash/redis (pinned in package.json), used exactly as applications use
// it: new Redis({ url, token }) and Redis.fromEnv().
//
// Inputs (run.sh sets them):
//   DEVAPI_API       the management API, e.g. http://127.0.0.1:PORT/v2
//   DEVAPI_REST_URL  the REST data API, e.g. http://127.0.0.1:PORT2
//   UPSTASH_EMAIL, UPSTASH_API_KEY  the account, for HTTP Basic auth
//
// Run: node --test e2e/node/sdk.test.mjs
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Redis, errors } from "@upstash/redis";

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (see e2e/node/run.sh)`);
  return v;
}

const API = required("DEVAPI_API").replace(/\/$/, "");
const REST_URL = required("DEVAPI_REST_URL").replace(/\/$/, "");
const AUTH = "Basic " + Buffer.from(`${required("UPSTASH_EMAIL")}:${required("UPSTASH_API_KEY")}`).toString("base64");

/** api calls the management API and returns the parsed JSON answer. */
async function api(method, path, body) {
  const res = await fetch(API + path, {
    method,
    headers: { Authorization: AUTH, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${method} ${path}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** client is how users build a client: a URL and a token. */
function client(token, options = {}) {
  return new Redis({ url: REST_URL, token, ...options });
}

// @upstash/redis 1.39.0 turns auto-pipelining on by default, so a plain
// new Redis({ url, token }) sends nearly every command as a one-command
// POST /pipeline (some, like hgetall and lrange, always go alone to POST /).
// The tests that check single commands run both ways: as users get it by
// default, and with enableAutoPipelining: false, which sends each command as
// a JSON array to POST /.
const MODES = [
  { name: "default client (auto-pipelining on)", auto: true, options: {} },
  { name: "enableAutoPipelining: false", auto: false, options: { enableAutoPipelining: false } },
];

/**
 * The exact messages the SDK puts on the UpstashError it rejects with:
 *
 *  - commandError: the server ran the request and one command failed. Sent
 *    alone (POST /, HTTP 400 {"error"}), HttpClient throws "ERROR, command
 *    was: COMMAND"; auto-pipelined (POST /pipeline, HTTP 200 with an
 *    {"error"} item) the executor throws "Command failed: ERROR".
 *  - requestError: the server refused the request as a whole (HTTP 401):
 *    "ERROR, command was: BODY", the body being the command, or the array of
 *    the one command when auto-pipelined.
 */
function commandError(mode, command, error) {
  return mode.auto ? `Command failed: ${error}` : `${error}, command was: ${JSON.stringify(command)}`;
}
function requestError(mode, command, error) {
  return `${error}, command was: ${JSON.stringify(mode.auto ? [command] : command)}`;
}

/** rejectsWith asserts that p rejects with an UpstashError saying message. */
async function rejectsWith(p, message) {
  await assert.rejects(p, (err) => {
    assert.ok(err instanceof errors.UpstashError, `expected an UpstashError, got ${err?.name}: ${err?.message}`);
    assert.equal(err.message, message);
    return true;
  });
}

const WRONGPASS = "WRONGPASS invalid or missing auth token";
const NOT_INTEGER = "ERR value is not an integer or out of range";
const noPerm = (name) => `NOPERM this user has no permissions to run the '${name}' command`;

const OBJ = { name: "devapi", n: 42, nested: { list: [1, "two", null], ok: true } };

describe("devapi REST data API with @upstash/redis", { timeout: 120_000 }, () => {
  let db; // the management API's answer: database_id, rest_token, read_only_rest_token, ...
  let deleted = false;

  before(async () => {
    db = await api("POST", "/redis/database", { database_name: "node-e2e", primary_region: "us-east-1" });
    assert.equal(typeof db.database_id, "string");
    assert.equal(typeof db.rest_token, "string");
    assert.equal(typeof db.read_only_rest_token, "string");
    assert.ok(db.rest_token.length > 0 && db.read_only_rest_token.length > 0);
    assert.notEqual(db.rest_token, db.read_only_rest_token);
  });

  after(async () => {
    // Cleanup when the deletion test did not get that far; the deletion
    // itself is asserted in its own test.
    if (db && !deleted) {
      await fetch(`${API}/redis/database/${db.database_id}`, { method: "DELETE", headers: { Authorization: AUTH } });
    }
  });

  for (const mode of MODES) {
    it(`set/get round trips strings and JSON values; incr, expire/ttl, missing keys (${mode.name})`, async () => {
      const redis = client(db.rest_token, mode.options);
      const k = (name) => `${mode.auto ? "a" : "d"}:${name}`;

      assert.equal(await redis.set(k("str"), "hello world"), "OK");
      assert.equal(await redis.get(k("str")), "hello world");

      // Non-ASCII survives the base64 response encoding the SDK asks for.
      assert.equal(await redis.set(k("utf8"), "grüße ✓ 日本"), "OK");
      assert.equal(await redis.get(k("utf8")), "grüße ✓ 日本");

      // The SDK serialises objects to JSON and parses them back.
      assert.equal(await redis.set(k("obj"), OBJ), "OK");
      assert.deepEqual(await redis.get(k("obj")), OBJ);

      assert.equal(await redis.incr(k("counter")), 1);
      assert.equal(await redis.incr(k("counter")), 2);
      assert.equal(await redis.incrby(k("counter"), 40), 42);
      assert.equal(await redis.get(k("counter")), 42); // the SDK parses "42" as a number

      assert.equal(await redis.set(k("ttl"), "v"), "OK");
      assert.equal(await redis.ttl(k("ttl")), -1);
      assert.equal(await redis.expire(k("ttl"), 100), 1);
      const ttl = await redis.ttl(k("ttl"));
      assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
      assert.equal(await redis.set(k("ex"), "v", { ex: 60 }), "OK");
      const ex = await redis.ttl(k("ex"));
      assert.ok(ex > 50 && ex <= 60, `ttl ${ex}`);

      // set NX on an existing key: not set, answered null.
      assert.equal(await redis.set(k("str"), "other", { nx: true }), null);
      assert.equal(await redis.get(k("str")), "hello world");

      assert.equal(await redis.get(k("missing")), null);
      assert.equal(await redis.ttl(k("missing")), -2);
      assert.equal(await redis.exists(k("str"), k("obj"), k("missing")), 2);

      // Collections: arrays in the answer.
      assert.equal(await redis.hset(k("hash"), { f1: "v1", f2: "v2" }), 2);
      assert.deepEqual(await redis.hgetall(k("hash")), { f1: "v1", f2: "v2" });
      assert.equal(await redis.rpush(k("list"), "a", "b", "c"), 3);
      assert.deepEqual(await redis.lrange(k("list"), 0, -1), ["a", "b", "c"]);
      assert.deepEqual(await redis.mget(k("str"), k("missing"), k("obj")), ["hello world", null, OBJ]);

      // A failing command rejects with Redis's error.
      await rejectsWith(redis.incr(k("str")), commandError(mode, ["incr", k("str")], NOT_INTEGER));
      assert.equal(await redis.get(k("str")), "hello world");
    });
  }

  it("Redis.fromEnv() works with UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN", async () => {
    const saved = { url: process.env.UPSTASH_REDIS_REST_URL, token: process.env.UPSTASH_REDIS_REST_TOKEN };
    process.env.UPSTASH_REDIS_REST_URL = REST_URL;
    process.env.UPSTASH_REDIS_REST_TOKEN = db.rest_token;
    try {
      const redis = Redis.fromEnv();
      assert.equal(await redis.set("fromenv", { via: "env" }), "OK");
      assert.deepEqual(await redis.get("fromenv"), { via: "env" });
      assert.equal(await redis.get("a:str"), "hello world");
      assert.equal(await redis.del("fromenv"), 1);
      assert.equal(await redis.get("fromenv"), null);
    } finally {
      for (const [name, v] of [["UPSTASH_REDIS_REST_URL", saved.url], ["UPSTASH_REDIS_REST_TOKEN", saved.token]]) {
        if (v === undefined) delete process.env[name];
        else process.env[name] = v;
      }
    }
  });

  it("pipeline: several commands, results in order", async () => {
    const redis = client(db.rest_token);
    const results = await redis
      .pipeline()
      .set("p:a", "one")
      .set("p:obj", { n: 1 })
      .incr("p:n")
      .incr("p:n")
      .get("p:a")
      .get("p:obj")
      .get("p:missing")
      .rpush("p:l", "x", "y")
      .lrange("p:l", 0, -1)
      .hset("p:h", { f: "v" })
      .hgetall("p:h")
      .del("p:a")
      .exists("p:a")
      .exec();
    assert.deepEqual(results, ["OK", "OK", 1, 2, "one", { n: 1 }, null, 2, ["x", "y"], 1, { f: "v" }, 1, 0]);

    // One failing command fails exec() by default; with keepErrors it is
    // reported in its place and the others still run.
    const failing = () => redis.pipeline().set("p:s", "text").incr("p:s").get("p:s");
    await rejectsWith(failing().exec(), `Command 2 [ incr ] failed: ${NOT_INTEGER}`);
    assert.deepEqual(await failing().exec({ keepErrors: true }), [
      { error: undefined, result: "OK" },
      { error: NOT_INTEGER, result: undefined },
      { error: undefined, result: "text" },
    ]);
  });

  it("transaction: multi() ... exec()", async () => {
    const redis = client(db.rest_token);
    const results = await redis
      .multi()
      .set("m:a", "1")
      .incr("m:a")
      .incrby("m:a", 10)
      .get("m:a")
      .set("m:obj", { tx: true })
      .get("m:obj")
      .get("m:missing")
      .exec();
    assert.deepEqual(results, ["OK", 2, 12, 12, "OK", { tx: true }, null]);
    assert.equal(await redis.get("m:a"), 12);

    // A command that fails while executing fails in its place; the rest of
    // the transaction still runs, as in Redis.
    const kept = await redis.multi().set("m:s", "text").incr("m:s").set("m:after", "ran").exec({ keepErrors: true });
    assert.deepEqual(kept, [
      { error: undefined, result: "OK" },
      { error: NOT_INTEGER, result: undefined },
      { error: undefined, result: "OK" },
    ]);
    assert.equal(await redis.get("m:after"), "ran");
  });

  it("auto-pipelining batches concurrent gets and sets", async () => {
    const redis = client(db.rest_token, { enableAutoPipelining: true });
    const n = 25;
    const keys = Array.from({ length: n }, (_, i) => `ap:${i}`);
    const value = (i) => (i % 2 ? `v${i}` : { i });

    const sets = await Promise.all(keys.map((k, i) => redis.set(k, value(i))));
    assert.deepEqual(sets, Array(n).fill("OK"));
    assert.equal(redis.pipelineCounter, 1, "the concurrent sets went out as one pipeline");

    const gets = await Promise.all([...keys, "ap:missing"].map((k) => redis.get(k)));
    assert.deepEqual(gets, [...keys.map((_, i) => value(i)), null]);
    assert.equal(redis.pipelineCounter, 2, "the concurrent gets went out as one pipeline");

    // Reads and writes of one tick go out as two pipelines; an error fails
    // its own command only.
    const [incr, bad, a, b] = await Promise.allSettled([
      redis.incr("ap:counter"),
      redis.incr("ap:1"), // holds "v1"
      redis.get("ap:0"),
      redis.get("ap:3"),
    ]);
    assert.deepEqual(incr, { status: "fulfilled", value: 1 });
    assert.equal(bad.status, "rejected");
    assert.ok(bad.reason instanceof errors.UpstashError);
    assert.equal(bad.reason.message, `Command failed: ${NOT_INTEGER}`);
    assert.deepEqual(a, { status: "fulfilled", value: { i: 0 } });
    assert.deepEqual(b, { status: "fulfilled", value: "v3" });
    assert.equal(redis.pipelineCounter, 4);
  });

  for (const mode of MODES) {
    it(`the read-only token reads but cannot write: NOPERM (${mode.name})`, async () => {
      const rw = client(db.rest_token, mode.options);
      const ro = client(db.read_only_rest_token, mode.options);
      const key = `ro:${mode.auto ? "a" : "d"}`;
      assert.equal(await rw.set(key, "before"), "OK");

      assert.equal(await ro.get(key), "before");
      assert.deepEqual(await ro.get("a:obj"), OBJ);
      assert.equal(await ro.exists(key), 1);
      assert.equal(await ro.get("missing"), null);
      assert.deepEqual(await ro.lrange("a:list", 0, -1), ["a", "b", "c"]);

      await rejectsWith(ro.set(key, "after"), commandError(mode, ["set", key, "after"], noPerm("set")));
      await rejectsWith(ro.incr("a:counter"), commandError(mode, ["incr", "a:counter"], noPerm("incr")));
      await rejectsWith(ro.del(key), commandError(mode, ["del", key], noPerm("del")));

      // In a pipeline the refused write fails in its place.
      assert.deepEqual(await ro.pipeline().get(key).set(key, "after").exec({ keepErrors: true }), [
        { error: undefined, result: "before" },
        { error: noPerm("set"), result: undefined },
      ]);

      // A transaction with a write is refused as a whole (HTTP 400).
      await rejectsWith(
        ro.multi().get(key).set(key, "after").exec(),
        `${noPerm("set")}, command was: ${JSON.stringify([["get", key], ["set", key, "after"]])}`,
      );

      assert.equal(await rw.get(key), "before", "nothing the read-only token sent was written");
      assert.equal(await rw.get("a:counter"), 42);
    });
  }

  it("an unknown token is rejected with WRONGPASS", async () => {
    for (const mode of MODES) {
      await rejectsWith(client("not-a-token", mode.options).get("a:str"), requestError(mode, ["get", "a:str"], WRONGPASS));
    }
  });

  it("subscribe() and psubscribe() receive what publish() sends; the read-only token may subscribe", async () => {
    const redis = client(db.rest_token);
    const messages = [];
    const pmessages = [];
    const counts = [];
    const sub = redis.subscribe(["node:chat"]);
    sub.on("subscribe", (n) => counts.push(n));
    sub.on("message", ({ channel, message }) => message !== "warm-up" && messages.push({ channel, message }));
    const psub = client(db.read_only_rest_token).psubscribe(["node:*"]);
    psub.on("pmessage", ({ pattern, channel, message }) => message !== "warm-up" && pmessages.push({ pattern, channel, message }));
    try {
      // Both subscriptions are in place once a publish reaches 2 receivers.
      let receivers = 0;
      for (let i = 0; i < 200 && receivers < 2; i++) {
        receivers = await redis.publish("node:chat", "warm-up");
        if (receivers < 2) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(receivers, 2, "the subscriptions were not in place within 10 s");

      assert.equal(await redis.publish("node:chat", OBJ), 2);
      assert.equal(await redis.publish("node:chat", "plain text"), 2);
      const want = [
        { channel: "node:chat", message: OBJ },
        { channel: "node:chat", message: "plain text" },
      ];
      for (let i = 0; i < 200 && (messages.length < 2 || pmessages.length < 1); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      // The stream's first line came before its messages.
      assert.deepEqual(counts, [1]);
      assert.deepEqual(messages, want);
      // The SDK JSON-parses a pmessage without a fallback: "plain text"
      // becomes an "error" event there (SDK behaviour), so only OBJ arrives.
      assert.deepEqual(pmessages, [{ pattern: "node:*", ...want[0] }]);
      // The read-only token subscribes but does not publish.
      await rejectsWith(client(db.read_only_rest_token, { enableAutoPipelining: false }).publish("node:chat", "x"),
        commandError(MODES[1], ["publish", "node:chat", "x"], noPerm("publish")));
    } finally {
      await sub.unsubscribe();
      await psub.unsubscribe();
    }
  });

  it("reset-password: the old tokens stop working, the new ones see the data", async () => {
    const old = MODES.map((mode) => ({
      mode,
      rw: client(db.rest_token, mode.options),
      ro: client(db.read_only_rest_token, mode.options),
    }));
    // Use the old clients first, so their keep-alive connections are open:
    // the token must be checked on every request, not once per connection.
    assert.equal(await old[0].rw.set("rot:before", "kept"), "OK");
    for (const o of old) {
      assert.equal(await o.rw.get("rot:before"), "kept");
      assert.equal(await o.ro.get("rot:before"), "kept");
    }

    const reset = await api("POST", `/redis/reset-password/${db.database_id}`);
    assert.equal(reset.database_id, db.database_id);
    assert.equal(typeof reset.rest_token, "string");
    assert.equal(typeof reset.read_only_rest_token, "string");
    assert.notEqual(reset.rest_token, db.rest_token);
    assert.notEqual(reset.read_only_rest_token, db.read_only_rest_token);
    db = reset;

    for (const { mode, rw, ro } of old) {
      await rejectsWith(rw.get("rot:before"), requestError(mode, ["get", "rot:before"], WRONGPASS));
      await rejectsWith(rw.set("rot:x", "y"), requestError(mode, ["set", "rot:x", "y"], WRONGPASS));
      await rejectsWith(ro.get("rot:before"), requestError(mode, ["get", "rot:before"], WRONGPASS));
      await rejectsWith(
        rw.pipeline().get("rot:before").exec(),
        `${WRONGPASS}, command was: ${JSON.stringify([["get", "rot:before"]])}`,
      );
      await rejectsWith(
        rw.multi().set("rot:x", "y").exec(),
        `${WRONGPASS}, command was: ${JSON.stringify([["set", "rot:x", "y"]])}`,
      );
    }

    for (const mode of MODES) {
      const fresh = client(reset.rest_token, mode.options);
      assert.equal(await fresh.get("rot:before"), "kept");
      assert.equal(await fresh.get("a:str"), "hello world");
      assert.deepEqual(await fresh.get("a:obj"), OBJ);
      assert.equal(await fresh.get("rot:x"), null, "the old token wrote nothing");
      assert.equal(await fresh.set("rot:after", mode.name), "OK");
      assert.equal(await fresh.get("rot:after"), mode.name);

      const freshRO = client(reset.read_only_rest_token, mode.options);
      assert.equal(await freshRO.get("rot:after"), mode.name);
      await rejectsWith(freshRO.set("rot:after", "x"), commandError(mode, ["set", "rot:after", "x"], noPerm("set")));
    }
  });

  it("deleting the database revokes its tokens", async () => {
    const clients = MODES.map((mode) => ({
      mode,
      rw: client(db.rest_token, mode.options),
      ro: client(db.read_only_rest_token, mode.options),
    }));
    for (const { rw, ro } of clients) {
      assert.equal(await rw.get("a:str"), "hello world");
      assert.equal(await ro.get("a:str"), "hello world");
    }

    assert.equal(await api("DELETE", `/redis/database/${db.database_id}`), "OK");
    deleted = true;

    for (const { mode, rw, ro } of clients) {
      await rejectsWith(rw.get("a:str"), requestError(mode, ["get", "a:str"], WRONGPASS));
      await rejectsWith(rw.set("a:str", "v"), requestError(mode, ["set", "a:str", "v"], WRONGPASS));
      await rejectsWith(ro.get("a:str"), requestError(mode, ["get", "a:str"], WRONGPASS));
    }
  });
});
