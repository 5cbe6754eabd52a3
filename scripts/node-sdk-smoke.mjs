// A session with Dify's official Node SDK (npm package dify-client), used
// as it is, against a chatflow server: the fake from `chatflow serve`, or a
// real one. scripts/node-sdk-smoke runs it; by hand:
//
//	DIFY_BASE_URL=http://127.0.0.1:8080/v1 DIFY_API_KEY=app-... node node-sdk-smoke.mjs
//
// (from a directory where `npm install dify-client` was run). It exits
// non-zero on the first failed check.
import assert from "node:assert/strict";
import { ChatClient, DifyClient } from "dify-client";

const baseUrl = process.env.DIFY_BASE_URL;
const apiKey = process.env.DIFY_API_KEY;
if (!baseUrl || !apiKey) {
  console.error("node-sdk-smoke: set DIFY_BASE_URL and DIFY_API_KEY");
  process.exit(2);
}
const user = `node-sdk-${process.pid}`;
const chat = new ChatClient(apiKey, baseUrl);

let step = "";
function begin(name) {
  step = name;
}
function ok(detail = "") {
  console.log(`ok   ${step}${detail ? ": " + detail : ""}`);
}

// readSSE collects the events of a text/event-stream response body
// (axios responseType "stream"): JSON data events and pings.
async function readSSE(stream) {
  let buf = "";
  const events = [];
  for await (const chunk of stream) {
    buf += chunk.toString("utf8");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (block.trim() === "") continue;
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n");
      if (data === "") {
        events.push({ event: block.includes("event: ping") ? "ping" : "unknown" });
        continue;
      }
      events.push(JSON.parse(data));
    }
  }
  assert.equal(buf.trim(), "", "stream ended inside an event");
  return events;
}

try {
  begin("createChatMessage blocking");
  const blocking = await chat.createChatMessage({}, "Hello from Node", user, false);
  assert.equal(blocking.status, 200);
  assert.equal(blocking.data.event, "message");
  assert.equal(typeof blocking.data.answer, "string");
  assert.ok(blocking.data.answer.length > 0, "empty answer");
  assert.ok(blocking.data.conversation_id, "no conversation_id");
  assert.ok(blocking.data.message_id, "no message_id");
  const conversationId = blocking.data.conversation_id;
  ok(JSON.stringify(blocking.data.answer));

  begin("createChatMessage streaming");
  const streaming = await chat.createChatMessage({}, "Now stream it", user, true, conversationId);
  assert.equal(streaming.status, 200);
  assert.match(String(streaming.headers["content-type"]), /^text\/event-stream/);
  const events = await readSSE(streaming.data);
  const names = events.map((e) => e.event);
  assert.equal(names[0], "workflow_started", names.join(","));
  assert.ok(names.includes("message_end"), "no message_end");
  assert.ok(names.includes("workflow_finished"), "no workflow_finished");
  const answer = events.filter((e) => e.event === "message").map((e) => e.answer).join("");
  assert.ok(answer.length > 0, "no answer text");
  for (const e of events.filter((e) => e.event !== "ping")) {
    assert.equal(e.conversation_id, conversationId, `${e.event} in another conversation`);
  }
  const streamedMessageId = events.find((e) => e.event === "message_end").id;
  ok(`${events.length} events, answer ${JSON.stringify(answer)}`);

  begin("getConversations");
  const convs = await chat.getConversations(user);
  assert.equal(convs.status, 200);
  assert.ok(Array.isArray(convs.data.data));
  assert.ok(convs.data.data.some((c) => c.id === conversationId), "conversation not listed");
  ok(`${convs.data.data.length} conversation(s)`);

  begin("getConversationMessages");
  const msgs = await chat.getConversationMessages(user, conversationId);
  assert.equal(msgs.status, 200);
  assert.equal(msgs.data.data.length, 2);
  assert.equal(msgs.data.data[0].query, "Hello from Node");
  assert.equal(msgs.data.data[1].id, streamedMessageId);
  assert.equal(msgs.data.has_more, false);
  ok(`${msgs.data.data.length} messages`);

  begin("messageFeedback");
  const fb = await chat.messageFeedback(streamedMessageId, "like", user);
  assert.equal(fb.status, 200);
  assert.equal(fb.data.result, "success");
  ok();

  begin("getApplicationParameters");
  const params = await chat.getApplicationParameters(user);
  assert.equal(params.status, 200);
  assert.equal(typeof params.data, "object");
  ok();

  begin("fileUpload");
  const form = new FormData();
  form.append("file", new Blob(["hello from node"], { type: "text/plain" }), "node.txt");
  form.append("user", user);
  const up = await chat.fileUpload(form);
  assert.equal(up.status, 201);
  assert.equal(up.data.name, "node.txt");
  assert.ok(up.data.id, "no file id");
  ok(up.data.id);

  begin("renameConversation");
  const renamed = await chat.renameConversation(conversationId, "Renamed by Node", user);
  assert.equal(renamed.status, 200);
  assert.equal(renamed.data.name, "Renamed by Node");
  const auto = await chat.renameConversation(conversationId, undefined, user, true);
  assert.equal(auto.status, 200);
  assert.ok(auto.data.name, "no generated name");
  ok(JSON.stringify(auto.data.name));

  begin("deleteConversation");
  const del = await chat.deleteConversation(conversationId, user);
  assert.ok(del.status === 204 || del.status === 200, `status ${del.status}`);
  const after = await chat.getConversations(user);
  assert.ok(!after.data.data.some((c) => c.id === conversationId), "conversation still listed");
  ok(`status ${del.status}`);

  begin("getConversationMessages of a deleted conversation");
  await assert.rejects(chat.getConversationMessages(user, conversationId), (err) => {
    assert.equal(err.response?.status, 404);
    assert.equal(err.response.data.code, "not_found");
    return true;
  });
  ok();

  begin("wrong API key");
  const bad = new DifyClient("app-wrong-key", baseUrl);
  await assert.rejects(bad.getApplicationParameters(user), (err) => {
    assert.equal(err.response?.status, 401);
    assert.equal(err.response.data.code, "unauthorized");
    assert.equal(err.response.data.status, 401);
    assert.equal(err.response.headers["www-authenticate"], 'Bearer realm="api"');
    return true;
  });
  ok();

  console.log("node-sdk-smoke: all checks passed");
} catch (err) {
  const detail = err.response
    ? `HTTP ${err.response.status} ${JSON.stringify(err.response.data)}`
    : err.stack || String(err);
  console.error(`FAIL ${step}: ${detail}`);
  process.exit(1);
}
