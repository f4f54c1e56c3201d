// Question page for the NATO-aid articles. Plain JS, no framework and no build step:
// it talks to the OpenAI-compatible /v1/chat/completions endpoint and /documents/{id}.
"use strict";

(() => {
  const CHAT_URL = "/v1/chat/completions";
  const DOCUMENT_URL = "/documents/";
  const MODEL = "nato-rag";
  const MARKER = /\[(\d+)\]/g;

  const $ = (id) => document.getElementById(id);
  const ui = {
    form: $("ask-form"),
    question: $("question"),
    submit: $("submit"),
    alert: $("alert"),
    status: $("status"),
    log: $("log"),
    intro: $("intro"),
    reset: $("new-conversation"),
    panel: $("source-panel"),
    panelMarker: $("panel-marker"),
    panelTitle: $("panel-title"),
    panelMeta: $("panel-meta"),
    panelText: $("panel-text"),
    panelClose: $("panel-close"),
  };

  // Below this width the panel covers the page (see style.css), so the page behind goes inert.
  const overlay = window.matchMedia("(max-width: 700px)");
  const layout = document.querySelector(".layout");

  const state = {
    history: [], // {role, content} turns sent back to the server for follow-ups
    controller: null, // AbortController of the request in flight
    opener: null, // element that opened the source panel; focus returns there
    panelToken: 0, // guards against a slow article load overwriting a newer one
    documents: new Map(), // doc_id -> Promise<document>
  };

  // ---------- errors ----------

  class FriendlyError extends Error {}

  function apiKey() {
    // The server may require RAG_API_KEY; the page has no UI for it, see docs/web.md.
    try {
      const key = window.localStorage.getItem("ragApiKey");
      return key && key.trim() ? key.trim() : null;
    } catch {
      return null; // storage blocked (privacy settings): behave as if no key was set
    }
  }

  function headers(extra) {
    const out = Object.assign({}, extra);
    const key = apiKey();
    if (key) out.Authorization = `Bearer ${key}`;
    return out;
  }

  async function serverMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && typeof body.error.message === "string") return body.error.message;
      if (body && typeof body.detail === "string") return body.detail;
      if (body && Array.isArray(body.detail) && body.detail.length) {
        return body.detail.map((d) => d.msg || String(d)).join("; ");
      }
    } catch {
      // not JSON: fall through to a generic message
    }
    return "";
  }

  async function httpError(response) {
    const said = await serverMessage(response);
    const status = response.status;
    if (status === 401 || status === 403) {
      return new FriendlyError(
        "This server asks for an API key. Store yours in this browser with " +
          "localStorage.setItem('ragApiKey', 'your key') in the developer console, then ask again." +
          (said ? ` (Server said: ${said})` : ""),
      );
    }
    if (status === 400 || status === 422) {
      return new FriendlyError(said || "The server could not accept that question. Try rewording it.");
    }
    if (status === 413) {
      return new FriendlyError("That question is far too long to send. Please shorten it.");
    }
    if (status === 429) {
      return new FriendlyError("The server is busy right now. Please wait a moment and ask again.");
    }
    if (status >= 500) {
      return new FriendlyError(
        "The answer service had a problem and could not answer. Please try again in a moment." +
          (said ? ` (Server said: ${said})` : ""),
      );
    }
    return new FriendlyError(said || `The server refused the request (HTTP ${status}).`);
  }

  function friendly(error) {
    if (error instanceof FriendlyError) return error.message;
    if (error instanceof TypeError) {
      // fetch rejects with TypeError when the server is down or the network is gone.
      return "Could not reach the answer service. Check that the server is running and try again.";
    }
    return "Something went wrong while getting the answer. Please try again.";
  }

  function showAlert(message) {
    ui.alert.textContent = message;
  }

  function clearAlert() {
    ui.alert.textContent = "";
    ui.question.removeAttribute("aria-invalid");
  }

  function announce(message) {
    ui.status.textContent = message;
  }

  // ---------- talking to the server ----------

  function completionResult(body) {
    const choice = body && body.choices && body.choices[0];
    return {
      content: (choice && choice.message && choice.message.content) || "",
      citations: Array.isArray(body.rag_citations) ? body.rag_citations : [],
      abstained: Boolean(body.abstained),
      resolved: typeof body.resolved_question === "string" ? body.resolved_question : "",
    };
  }

  // Parses one server-sent event block; returns its data or null (comments, keep-alives).
  function eventData(block) {
    const lines = block.split("\n").filter((l) => l.startsWith("data:"));
    if (!lines.length) return null;
    return lines.map((l) => l.slice(5).replace(/^ /, "")).join("\n");
  }

  async function streamChat(messages, onText, signal) {
    let response;
    try {
      response = await fetch(CHAT_URL, {
        method: "POST",
        headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify({ model: MODEL, messages, stream: true }),
        signal,
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new TypeError("network");
    }
    if (!response.ok) throw await httpError(response);

    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("text/event-stream") || !response.body) {
      // A server that ignores stream:true answers with one chat.completion object.
      const result = completionResult(await response.json());
      onText(result.content);
      return result;
    }

    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const result = { content: "", citations: [], abstained: false, resolved: "" };
    let buffer = "";
    let finished = false; // saw [DONE]
    let sawFinish = false; // saw finish_reason: enough if a server omits [DONE]
    while (!finished) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (error.name === "AbortError") throw error;
        throw new FriendlyError("The connection dropped before the answer was complete.");
      }
      if (chunk.done) break;
      buffer = (buffer + decoder.decode(chunk.value, { stream: true })).replace(/\r\n/g, "\n");
      let cut;
      while (!finished && (cut = buffer.indexOf("\n\n")) >= 0) {
        const data = eventData(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (data === null) continue;
        if (data.trim() === "[DONE]") {
          finished = true;
          break;
        }
        let event;
        try {
          event = JSON.parse(data);
        } catch {
          throw new FriendlyError("The server sent an answer this page could not read.");
        }
        if (event.error) {
          throw new FriendlyError(event.error.message || "The server stopped with an error.");
        }
        const choice = event.choices && event.choices[0];
        const piece = choice && choice.delta && choice.delta.content;
        if (piece) {
          result.content += piece;
          onText(result.content);
        }
        // Structured citations (rag_citations) ride on the final chunk; accept them from
        // whichever chunk carries them. (`citations` there is the list of their URLs.)
        if (Array.isArray(event.rag_citations)) result.citations = event.rag_citations;
        if (typeof event.abstained === "boolean") result.abstained = event.abstained;
        if (typeof event.resolved_question === "string") result.resolved = event.resolved_question;
        if (choice && choice.finish_reason) sawFinish = true;
      }
    }
    if (!finished && !sawFinish) {
      reader.cancel().catch(() => {});
      throw new FriendlyError("The connection dropped before the answer was complete.");
    }
    return result;
  }

  function getDocument(docId) {
    if (!state.documents.has(docId)) {
      const promise = fetch(DOCUMENT_URL + encodeURIComponent(docId), { headers: headers() })
        .catch(() => {
          throw new TypeError("network");
        })
        .then(async (response) => {
          if (!response.ok) throw await httpError(response);
          return response.json();
        });
      // Failed loads are not cached, so a retry can succeed once the server is back.
      promise.catch(() => state.documents.delete(docId));
      state.documents.set(docId, promise);
    }
    return state.documents.get(docId);
  }

  // ---------- rendering ----------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function formatDate(iso) {
    if (!iso || !/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso || "";
    const date = new Date(`${iso}T00:00:00Z`);
    return new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeZone: "UTC" }).format(date);
  }

  function citationLabel(citation) {
    return `Source ${citation.marker}: ${citation.title}`;
  }

  // Writes the answer text, turning [n] into buttons once the citations are known.
  function renderAnswerText(node, text, citations) {
    const byMarker = new Map((citations || []).map((c) => [Number(c.marker), c]));
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(MARKER)) {
      parts.push(document.createTextNode(text.slice(last, match.index)));
      const citation = byMarker.get(Number(match[1]));
      if (citation) {
        const button = el("button", "cite", match[0]);
        button.type = "button";
        button.dataset.marker = String(citation.marker);
        button.setAttribute("aria-label", citationLabel(citation));
        button.title = citation.title;
        button.addEventListener("click", () => openSource(citation, button));
        parts.push(button);
      } else {
        parts.push(el("span", "cite pending", match[0]));
      }
      last = match.index + match[0].length;
    }
    parts.push(document.createTextNode(text.slice(last)));
    node.replaceChildren(...parts);
  }

  function renderSources(citations) {
    const wrap = el("div", "sources");
    const heading = el("h3", "sources-heading", "Sources");
    const list = el("ol", "source-list");
    for (const citation of citations) {
      const item = el("li");
      const button = el("button", "source");
      button.type = "button";
      button.dataset.marker = String(citation.marker);
      button.append(el("span", "source-num", String(citation.marker)));
      const body = el("span", "source-body");
      const title = el("span", "source-title", citation.title);
      body.append(title);
      if (citation.date) body.append(el("span", "source-date", ` · ${formatDate(citation.date)}`));
      body.append(el("span", "source-quote", `“${citation.quote}”`));
      button.append(body);
      button.addEventListener("click", () => openSource(citation, button));
      item.append(button);
      list.append(item);
    }
    wrap.append(heading, list);
    return wrap;
  }

  function addUserTurn(question) {
    const turn = el("div", "turn user");
    turn.append(el("span", "visually-hidden", "You asked: "));
    turn.append(el("p", "bubble", question));
    ui.log.append(turn);
    return turn;
  }

  function addAssistantTurn() {
    const turn = el("div", "turn assistant streaming");
    turn.append(el("span", "visually-hidden", "Answer: "));
    const text = el("p", "answer-text pending", "Searching the articles…");
    turn.append(text);
    ui.log.append(turn);
    return { turn, text };
  }

  const normalise = (s) => s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();

  // A follow-up is answered as a rewritten question; showing it explains the answer.
  function resolvedNote(question, resolved) {
    if (!resolved || normalise(resolved) === normalise(question)) return null;
    return el("p", "resolved", `Searched the articles for: “${resolved}”`);
  }

  function finishAssistantTurn(view, result, question) {
    const { turn, text } = view;
    turn.classList.remove("streaming");
    text.classList.remove("pending");
    const note = resolvedNote(question, result.resolved);
    if (result.abstained) {
      // "Not in the articles" must never look like an answer: own style, icon and heading.
      turn.classList.add("abstained");
      turn.replaceChildren();
      const icon = el("span", "abstain-icon");
      icon.setAttribute("aria-hidden", "true");
      icon.textContent = "?";
      const body = el("div", "abstain-body");
      body.append(el("p", "abstain-title", "Not in the articles"));
      body.append(el("p", "answer-text", result.content || "The articles don't say."));
      if (note) body.append(note);
      turn.append(icon, body);
      return;
    }
    turn.classList.add("answered");
    renderAnswerText(text, result.content, result.citations);
    if (note) text.after(note);
    if (result.citations.length) turn.append(renderSources(result.citations));
  }

  function scrollToLatest(node) {
    node.scrollIntoView({ block: "nearest" });
  }

  // ---------- asking ----------

  function setBusy(busy) {
    ui.log.setAttribute("aria-busy", busy ? "true" : "false");
    ui.submit.disabled = busy;
    ui.submit.textContent = busy ? "Answering…" : "Ask";
  }

  async function ask(question) {
    clearAlert();
    ui.intro.hidden = true;
    const userTurn = addUserTurn(question);
    const view = addAssistantTurn();
    scrollToLatest(view.turn);
    const messages = state.history.concat([{ role: "user", content: question }]);
    const controller = new AbortController();
    state.controller = controller;
    ui.question.value = "";
    setBusy(true);
    try {
      const result = await streamChat(
        messages,
        (soFar) => {
          view.text.classList.remove("pending");
          renderAnswerText(view.text, soFar, null);
          scrollToLatest(view.turn);
        },
        controller.signal,
      );
      state.history = messages.concat([{ role: "assistant", content: result.content }]);
      finishAssistantTurn(view, result, question);
      scrollToLatest(view.turn);
      announce(result.abstained ? "The articles don't cover that." : "Answer ready.");
    } catch (error) {
      if (error.name === "AbortError") return; // "New conversation" cancelled it on purpose
      // Undo the failed turn and give the question back, so retrying is one keypress.
      userTurn.remove();
      view.turn.remove();
      if (!ui.log.children.length) ui.intro.hidden = false;
      if (!ui.question.value) ui.question.value = question;
      showAlert(friendly(error));
    } finally {
      if (state.controller === controller) {
        state.controller = null;
        setBusy(false);
      }
    }
  }

  function onSubmit(event) {
    event.preventDefault();
    if (state.controller) return; // one question at a time
    const question = ui.question.value;
    if (!question.trim()) {
      ui.question.value = "";
      ui.question.setAttribute("aria-invalid", "true");
      showAlert("Please type a question first, for example: Where will the new NATO command be based?");
      ui.question.focus();
      return;
    }
    ui.question.focus(); // the submit button is about to be disabled; keep focus usable
    ask(question.trim());
  }

  function newConversation() {
    if (state.controller) state.controller.abort();
    state.controller = null;
    setBusy(false);
    state.history = [];
    ui.log.replaceChildren();
    ui.intro.hidden = false;
    closePanel(false);
    clearAlert();
    ui.question.value = "";
    ui.question.focus();
    announce("New conversation started.");
  }

  // ---------- source panel ----------

  // Python offsets count code points; JS strings count UTF-16 units. Array.from splits by
  // code point, so slicing it honours the server's offsets even with astral characters.
  function splitByCodePoints(text, start, end) {
    const points = Array.from(text);
    return [
      points.slice(0, start).join(""),
      points.slice(start, end).join(""),
      points.slice(end).join(""),
    ];
  }

  function renderArticle(doc, citation) {
    const text = doc.text || "";
    let [before, passage, after] = splitByCodePoints(text, citation.start, citation.end);
    if (citation.quote && passage !== citation.quote) {
      // Offsets disagree with the quote (should not happen): highlight the quote itself.
      const at = text.indexOf(citation.quote);
      if (at >= 0) {
        before = text.slice(0, at);
        passage = citation.quote;
        after = text.slice(at + citation.quote.length);
      }
    }
    const mark = el("mark", "cited", passage);
    // Leading blank lines in the file are layout noise; dropping them moves no offset we use.
    before = before.replace(/^\s+/, "");
    ui.panelText.replaceChildren(document.createTextNode(before), mark, document.createTextNode(after));
    return mark;
  }

  function panelMeta(doc, citation) {
    const parts = [];
    const outlet = doc.outlet;
    parts.push(outlet || "Outlet not stated");
    const date = doc.date || citation.date;
    if (date) parts.push(formatDate(date));
    else if (doc.date_note) parts.push(`undated; about ${doc.date_note}`);
    else parts.push("date not stated");
    return parts.join(" · ");
  }

  async function openSource(citation, opener) {
    const token = ++state.panelToken;
    state.opener = opener;
    ui.panelMarker.textContent = `[${citation.marker}]`;
    ui.panelTitle.textContent = citation.title;
    ui.panelMeta.textContent = "";
    ui.panelText.replaceChildren(el("p", "panel-loading", "Loading the article…"));
    ui.panel.hidden = false;
    document.body.classList.add("panel-open");
    syncInert();
    ui.panelTitle.focus();
    try {
      const doc = await getDocument(citation.doc_id);
      if (token !== state.panelToken) return;
      ui.panelTitle.textContent = doc.title || citation.title;
      ui.panelMeta.textContent = panelMeta(doc, citation);
      const mark = renderArticle(doc, citation);
      mark.scrollIntoView({ block: "center" });
    } catch (error) {
      if (token !== state.panelToken) return;
      const fallback = el("div", "panel-error");
      fallback.append(el("p", "", `The full article could not be loaded. ${friendly(error)}`));
      fallback.append(el("p", "", "The cited passage:"));
      fallback.append(el("mark", "cited", citation.quote));
      ui.panelText.replaceChildren(fallback);
    }
  }

  function syncInert() {
    layout.inert = overlay.matches && !ui.panel.hidden;
  }

  function closePanel(restoreFocus = true) {
    if (ui.panel.hidden) return;
    state.panelToken++;
    ui.panel.hidden = true;
    document.body.classList.remove("panel-open");
    syncInert();
    const opener = state.opener;
    state.opener = null;
    if (!restoreFocus) return;
    if (opener && opener.isConnected) opener.focus();
    else ui.question.focus();
  }

  // ---------- wiring ----------

  // The question box is sticky; CSS uses its height to keep scrolled-to content visible.
  if ("ResizeObserver" in window) {
    new ResizeObserver(() => {
      document.documentElement.style.setProperty("--composer-height", `${ui.form.offsetHeight}px`);
    }).observe(ui.form);
  }

  ui.form.addEventListener("submit", onSubmit);
  ui.question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });
  ui.question.addEventListener("input", () => {
    if (ui.question.getAttribute("aria-invalid") && ui.question.value.trim()) clearAlert();
  });
  ui.reset.addEventListener("click", newConversation);
  overlay.addEventListener("change", syncInert);
  ui.panelClose.addEventListener("click", () => closePanel());
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !ui.panel.hidden) {
      event.preventDefault();
      closePanel();
    }
  });
  for (const button of document.querySelectorAll(".example")) {
    button.addEventListener("click", () => {
      ui.question.value = button.textContent.replace(/\s+/g, " ").trim();
      ui.form.requestSubmit();
    });
  }
})();
