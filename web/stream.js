// A job's events (`GET /api/jobs/{id}/events`, server-sent events) read with `fetch`, because
// EventSource cannot send the Authorization header. It does what EventSource does on its
// own, and a little more: when the connection drops (or the server ends the stream with its
// `reconnect` event) it connects again with `Last-Event-ID` set to the last event it
// delivered, so the server replays exactly the events after it; an event whose id is not
// after that one is dropped, so nothing is delivered twice; 204 means the client already
// has the job's last event. It stops at a terminal event (result, error, cancelled).

import { ApiError, authHeaders, url } from "./api.js";

export const TERMINAL = new Set(["result", "error", "cancelled"]);
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/** "1732540000000-3" -> [1732540000000, 3]; ids of one stream only ever grow. */
function order(id) {
  const [ms, seq] = id.split("-");
  return [Number(ms), Number(seq || 0)];
}

export function isAfter(id, last) {
  if (last === null) return true;
  const [a, b] = order(id);
  const [c, d] = order(last);
  return a > c || (a === c && b > d);
}

/** Parses SSE text chunks into events: {type, data, id}. */
class Parser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.type = "";
    this.data = [];
    this.id = null;
  }

  push(text) {
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop();
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) this.onEvent({ type: this.type || "message", data: this.data.join("\n"), id: this.id });
      this.reset();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id") this.id = value;
  }
}

/**
 * Follow `path` until a terminal event. `onEvent({type, data, id})` gets each event once, in
 * order; `onState(state, detail)` hears "connected", "reconnecting" and "ended".
 * Answers {stop, done}: `done` resolves with the terminal event (or null once stopped).
 */
export function follow(path, { onEvent, onState = () => {}, lastEventId = null }) {
  let last = lastEventId;
  let stopped = false;
  let controller = null;
  let retry = FIRST_RETRY_MS;

  async function once() {
    controller = new AbortController();
    const headers = { ...authHeaders(), Accept: "text/event-stream" };
    if (last !== null) headers["Last-Event-ID"] = last;
    const response = await fetch(url(path), { headers, signal: controller.signal, cache: "no-store" });
    if (response.status === 204) return { ended: true, terminal: null };
    if (!response.ok) {
      let error = {};
      try {
        error = (await response.json()).error || {};
      } catch {
        // not JSON: the status says enough
      }
      const failure = new ApiError(response.status, error.code || "http_error", error.message || `events answered ${response.status}`);
      failure.retryable = response.status >= 500;
      throw failure;
    }
    onState("connected", { lastEventId: last });
    retry = FIRST_RETRY_MS;
    let terminal = null;
    const parser = new Parser((event) => {
      if (terminal || event.type === "reconnect") return;
      if (event.id !== null) {
        if (!isAfter(event.id, last)) return; // already delivered
        last = event.id;
      }
      let data = null;
      try {
        data = JSON.parse(event.data);
      } catch {
        data = event.data;
      }
      const delivered = { type: event.type, data, id: event.id };
      onEvent(delivered);
      if (TERMINAL.has(event.type)) terminal = delivered;
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    while (!terminal) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
    }
    if (terminal) controller.abort();
    return { ended: terminal !== null, terminal };
  }

  const done = (async () => {
    while (!stopped) {
      try {
        const { ended, terminal } = await once();
        if (ended) {
          onState("ended", { terminal });
          return terminal;
        }
      } catch (error) {
        if (stopped) break;
        if (error instanceof ApiError && !error.retryable) throw error;
      }
      if (stopped) break;
      onState("reconnecting", { lastEventId: last, inMs: retry });
      await new Promise((resolve) => setTimeout(resolve, retry));
      retry = Math.min(retry * 2, MAX_RETRY_MS);
    }
    return null;
  })();

  return {
    done,
    stop() {
      stopped = true;
      if (controller) controller.abort();
    },
    get lastEventId() {
      return last;
    },
  };
}
