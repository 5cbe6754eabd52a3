// A chat page on the relay: it speaks Dify's Service API (under /v1) and
// never holds the app's key. The end user is the relay's business.
"use strict";

const api = "/v1";
const $ = (id) => document.getElementById(id);
let conversationId = "";
let taskId = "";
let running = null; // the AbortController of the run being streamed

function status(text) { $("status").textContent = text; }

function bubble(kind, text) {
  const div = document.createElement("div");
  div.className = kind;
  div.textContent = text;
  $("log").appendChild(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

async function call(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(api + path, opts);
  if (resp.status === 204) return null;
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.message || data.code || resp.status);
  return data;
}

async function loadConversations() {
  const list = $("conversations");
  try {
    const page = await call("GET", "/conversations?limit=50");
    list.replaceChildren();
    for (const c of page.data) {
      const li = document.createElement("li");
      li.className = "conv" + (c.id === conversationId ? " current" : "");
      li.dataset.id = c.id;
      li.textContent = c.name || c.id;
      li.onclick = () => openConversation(c.id);
      list.appendChild(li);
    }
  } catch (e) { status("Could not list conversations: " + e.message); }
}

async function openConversation(id) {
  conversationId = id;
  $("log").replaceChildren();
  $("progress").textContent = "";
  try {
    const page = await call("GET", "/messages?limit=100&conversation_id=" + encodeURIComponent(id));
    for (const m of page.data) {
      bubble("q", m.query);
      const a = bubble("a", m.answer);
      a.dataset.state = "done";
    }
    status("");
  } catch (e) { status("Could not open the conversation: " + e.message); }
  loadConversations();
}

// readEvents calls onEvent with each event of a Dify event stream.
async function readEvents(resp, onEvent) {
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n");
      if (data) onEvent(JSON.parse(data));
    }
  }
}

async function send(query) {
  bubble("q", query);
  const answer = bubble("a", "");
  answer.dataset.state = "streaming";
  answer.id = "answer";
  document.querySelectorAll(".a[id=answer]").forEach((el) => { if (el !== answer) el.removeAttribute("id"); });
  let text = "";
  taskId = "";
  running = new AbortController();
  $("send").disabled = true;
  $("stop").disabled = false;
  status("Thinking…");
  try {
    const resp = await fetch(api + "/chat-messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query, inputs: {}, conversation_id: conversationId, response_mode: "streaming" }),
      signal: running.signal,
    });
    if (!resp.ok) {
      const e = await resp.json();
      throw new Error(e.message || e.code);
    }
    await readEvents(resp, (ev) => {
      if (ev.task_id && !taskId) taskId = ev.task_id;
      if (ev.conversation_id) conversationId = ev.conversation_id;
      switch (ev.event) {
        case "message": text += ev.answer; answer.textContent = text; break;
        case "message_replace": text = ev.answer; answer.textContent = text; break;
        case "node_started": $("progress").textContent = "▶ " + (ev.data.title || ev.data.node_type); break;
        case "node_finished": $("progress").textContent = "✓ " + (ev.data.title || ev.data.node_type); break;
        case "workflow_finished":
          $("progress").textContent = ev.data.status === "stopped" ? "Stopped." : "";
          answer.dataset.status = ev.data.status;
          break;
        case "error": throw new Error(ev.message || ev.code);
      }
    });
    answer.dataset.state = "done";
    status("");
  } catch (e) {
    answer.dataset.state = e.name === "AbortError" ? "done" : "error";
    status(e.name === "AbortError" ? "Stopped." : "Error: " + e.message);
  } finally {
    running = null;
    $("send").disabled = false;
    $("stop").disabled = true;
    loadConversations();
  }
}

// stop asks the app to stop the run; the stream then ends by itself. Before
// the run has a task id, closing the stream makes the relay stop it.
async function stop() {
  $("stop").disabled = true;
  if (!taskId) { if (running) running.abort(); return; }
  try { await call("POST", "/chat-messages/" + encodeURIComponent(taskId) + "/stop", {}); }
  catch (e) { if (running) running.abort(); }
}

$("ask").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("query").value.trim();
  if (!q || running) return;
  $("query").value = "";
  send(q);
});
$("query").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask").requestSubmit(); }
});
$("stop").addEventListener("click", stop);
$("new").addEventListener("click", () => {
  conversationId = "";
  $("log").replaceChildren();
  $("progress").textContent = "";
  loadConversations();
});
loadConversations();
