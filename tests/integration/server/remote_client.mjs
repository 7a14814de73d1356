// A client that behaves like upstream's RemoteIsol8 (packages/core/src/client/remote.ts, see
// wire.md section 2): only fetch and, when the runtime has one, the built-in WebSocket (Node 20
// has none unless started with --experimental-websocket; the client then falls back to SSE, as
// upstream's does). Usage: node remote_client.mjs <host> <apiKey> [sessionId]
// Prints one JSON object with what each call returned; exits 1 on the first failure.

class RemoteClient {
  constructor({ host, apiKey, sessionId }, options) {
    this.host = host.replace(/\/$/, "");
    this.apiKey = apiKey;
    this.sessionId = sessionId;
    this.options = options;
    this.wsAvailable = true;
  }
  headers() {
    return { "Content-Type": "application/json", Authorization: `Bearer ${this.apiKey}` };
  }
  async start() {
    const res = await fetch(`${this.host}/health`, { headers: this.headers() });
    if (!res.ok) throw new Error(`Remote server health check failed: ${res.status}`);
  }
  async stop() {
    if (this.sessionId) {
      await fetch(`${this.host}/session/${this.sessionId}`, { method: "DELETE", headers: this.headers() });
    }
  }
  async execute(req) {
    const res = await fetch(`${this.host}/execute`, {
      method: "POST", headers: this.headers(),
      body: JSON.stringify({ request: req, options: this.options, sessionId: this.sessionId }),
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(`Execution failed: ${body.error ?? res.statusText}`);
    }
    return res.json();
  }
  async *executeStream(req) {
    if (this.wsAvailable && typeof WebSocket !== "undefined") {
      try {
        yield* this.streamViaWs(req);
        return;
      } catch (e) {
        if (this.wsUsedOnce) throw e;
        this.wsAvailable = false;
      }
    } else {
      this.wsAvailable = false;
    }
    yield* this.streamViaSse(req);
  }
  async *streamViaWs(req) {
    const url = this.host.replace(/^http/, "ws") + "/execute/ws";
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${this.apiKey}` } });
    const queue = [];
    let done = false, failure = null, wake = null;
    const notify = () => { if (wake) { wake(); wake = null; } };
    ws.onopen = () => {
      this.wsUsedOnce = true;
      ws.send(JSON.stringify({ type: "execute", request: req, options: this.options }));
    };
    ws.onmessage = (m) => { queue.push(JSON.parse(m.data)); notify(); };
    ws.onerror = () => { if (!done) failure = new Error("WebSocket connection failed"); done = true; notify(); };
    ws.onclose = (ev) => { this.lastClose = { code: ev.code, reason: ev.reason }; done = true; notify(); };
    for (;;) {
      if (queue.length) { yield queue.shift(); continue; }
      if (done) break;
      await new Promise((r) => (wake = r));
    }
    if (failure && !this.wsUsedOnce) throw failure;
    this.transport = "ws";
  }
  async *streamViaSse(req) {
    const res = await fetch(`${this.host}/execute/stream`, {
      method: "POST", headers: this.headers(),
      body: JSON.stringify({ request: req, options: this.options, sessionId: this.sessionId }),
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(`Stream failed: ${body.error ?? res.statusText}`);
    }
    if (!res.body) throw new Error("No response body for streaming");
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk, { stream: true });
      const lines = buffer.split("\n");
      buffer = lines.pop();
      for (const line of lines) {
        if (line.startsWith("data: ")) yield JSON.parse(line.slice(6).trim());
      }
    }
    this.transport = "sse";
  }
  async putFile(path, content) {
    if (!this.sessionId) throw new Error("File operations require a sessionId (persistent mode)");
    const res = await fetch(`${this.host}/file`, {
      method: "POST", headers: this.headers(),
      body: JSON.stringify({ sessionId: this.sessionId, path, content: Buffer.from(content).toString("base64") }),
    });
    if (!res.ok) throw new Error(`File upload failed: ${res.statusText}`);
  }
  async getFile(path) {
    if (!this.sessionId) throw new Error("File operations require a sessionId (persistent mode)");
    const params = new URLSearchParams({ sessionId: this.sessionId, path });
    const res = await fetch(`${this.host}/file?${params}`, { headers: this.headers() });
    if (!res.ok) throw new Error(`File download failed: ${res.statusText}`);
    const body = await res.json();
    return Buffer.from(body.content, "base64");
  }
  async listSessions() {
    const res = await fetch(`${this.host}/sessions`, { headers: this.headers() });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(`Failed to list sessions: ${body.error ?? res.statusText}`);
    }
    return (await res.json()).sessions;
  }
  async deleteSession(id) {
    const res = await fetch(`${this.host}/session/${id}`, { method: "DELETE", headers: this.headers() });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(`Failed to delete session: ${body.error ?? res.statusText}`);
    }
  }
}

const [host, apiKey, sessionId] = process.argv.slice(2);
const out = {};
try {
  const plain = new RemoteClient({ host, apiKey }, { timeoutMs: 10000 });
  await plain.start();
  const result = await plain.execute({ runtime: "bash", code: "echo hello" });
  out.execute = { stdout: result.stdout, exitCode: result.exitCode };
  const events = [];
  for await (const e of plain.executeStream({ runtime: "bash", code: "echo one; echo two >&2" })) events.push(e);
  out.stream = { transport: plain.transport, events, close: plain.lastClose ?? null };
  try {
    await plain.execute({ runtime: "bash" });
  } catch (e) {
    out.executeError = e.message;
  }
  const bad = new RemoteClient({ host, apiKey: "wrong" });
  try {
    await bad.execute({ runtime: "bash", code: "true" });
  } catch (e) {
    out.badKey = e.message;
  }
  if (sessionId) {
    const s = new RemoteClient({ host, apiKey, sessionId });
    await s.execute({ runtime: "bash", code: "echo -n kept > /sandbox/state.txt" });
    await s.putFile("/sandbox/upload.bin", Buffer.from([0, 1, 2, 255, 10]));
    const read = await s.execute({ runtime: "bash", code: "cat /sandbox/state.txt; od -An -tu1 /sandbox/upload.bin" });
    out.session = { stdout: read.stdout };
    out.download = [...(await s.getFile("/sandbox/upload.bin"))];
    out.sessions = (await s.listSessions()).map((x) => x.id);
    try {
      await s.getFile("/sandbox/missing.txt");
    } catch (e) {
      out.missingFile = e.message;
    }
    await s.stop();
    out.afterStop = (await s.listSessions()).map((x) => x.id);
  }
  console.log(JSON.stringify(out));
} catch (e) {
  console.log(JSON.stringify({ ...out, failure: e.message }));
  process.exit(1);
}
