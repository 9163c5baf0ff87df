// Tocsin web console: plain JavaScript, no build step, no external resources.
// Every piece of text from the server is put into the page with textContent / text nodes,
// never as HTML.
(function () {
  "use strict";

  // The page's labels come from Tocsin's text catalogue with /console/api/config. Until someone
  // signs in they follow the browser; then the person's own language (their /lang, else what
  // Tocsin is configured with), sent by the server with the history and after /lang.
  let TEXTS = { en: {}, zh: {} };
  const browserLang = () => ((navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en");
  let LANG = browserLang();
  let TZ = null;  // the reader's time zone (IANA), as the server says; null: the browser's
  const t = (key) => ((TEXTS[LANG] || {})[key] || TEXTS.en[key] || key);
  const TONES = ["alert", "waiting", "working", "good", "bad", "muted"];

  const FATAL = { 4400: true, 4401: true, 4403: true, 4404: true };
  const USER_KEY = "tocsin.console.user";
  const TOKEN_KEY = "tocsin.console.token";
  const CHAT_KEY = "tocsin.console.chat";
  const PRESS_TIMEOUT_MS = 20000;

  const state = {
    config: null,
    user: null,       // demo: the picked user id
    token: null,      // token mode: the sign-in token
    chat: null,
    me: null,         // {id, name, roles} after the server's history event
    ws: null,
    attempt: 0,
    reconnectTimer: null,
    nodes: new Map(),     // message id -> the .msg element (kept across updates)
    messages: new Map(),  // message id -> the message last shown in it
    pending: new Map(),   // request id -> {group, timer}
    nextRequest: 1,
  };

  const $ = (id) => document.getElementById(id);

  // el("div", {class: "x", onclick: fn}, "text", child) — children become text nodes or nodes.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function translatePage() {
    document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("input").placeholder = t("placeholder");
    const direct = document.querySelector('#chat-select option[value="@me"]');
    if (direct) direct.textContent = t("direct");
  }

  // The reader the server named: their language for the labels, their zone for message times.
  function useReader(reader) {
    if (reader && reader.language && TEXTS[reader.language]) LANG = reader.language;
    TZ = reader && reader.timezone ? reader.timezone : null;
    translatePage();
    for (const [id, node] of state.nodes) fillMessage(node, state.messages.get(id));
  }

  function setStatus(kind, text) {
    const status = $("status");
    status.dataset.state = kind;
    status.textContent = text || t(kind);
    $("send").disabled = kind !== "online";
  }

  // ---- messages ---------------------------------------------------------------------------

  // A message's time in the reader's zone (the zone cards are written in), else the browser's.
  function timeOf(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    try {
      return date.toLocaleTimeString(LANG === "zh" ? "zh-CN" : "en-GB", TZ ? { ...options, timeZone: TZ } : options);
    } catch (_) {
      return date.toLocaleTimeString([], options);
    }
  }

  // The card's badge: its status word, coloured by tone. No badge, nothing shown (never a key).
  function badgeOf(card) {
    const badge = card.badge;
    if (!badge || !badge.word) return null;
    const tone = TONES.includes(badge.tone) ? badge.tone : "muted";
    return el("span", { class: `badge tone-${tone}`, "data-tone": tone }, badge.word);
  }

  function webUrl(url) {
    try {
      const parsed = new URL(String(url));
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  function linksOf(card) {
    const links = (Array.isArray(card.links) ? card.links : [])
      .map((link) => ({ label: String(link.label || link.url || ""), href: webUrl(link.url) }))
      .filter((link) => link.href);
    if (!links.length) return null;
    return el("nav", { class: "card-links", "aria-label": t("links") },
      links.map((link) => el("a", {
        class: "card-link", href: link.href, target: "_blank", rel: "noopener noreferrer",
      }, link.label)));
  }

  const CHECKS = [["[ ] ", "☐", "todo"], ["[x] ", "☑", "done"], ["[X] ", "☑", "done"]];

  function sectionLine(line) {
    const text = String(line);
    for (const [prefix, mark, state] of CHECKS) {
      if (text.startsWith(prefix)) {
        return el("li", { class: `check check-${state}` },
          el("span", { class: "check-mark", "aria-hidden": "true" }, mark), " ", text.slice(prefix.length));
      }
    }
    return el("li", null, text);
  }

  function sectionsOf(card) {
    const sections = Array.isArray(card.sections) ? card.sections : [];
    return sections.map((section) => el("section", { class: "card-section" },
      section.title ? el("h4", { class: "card-section-title" }, section.title) : null,
      el("ul", { class: "card-section-lines" },
        (Array.isArray(section.lines) ? section.lines : []).map(sectionLine))));
  }

  function renderCard(message, card) {
    const tier = card.tier ? String(card.tier).toLowerCase() : "none";
    const article = el("article", { class: `card tier-${tier}`, "data-tier": card.tier || "" });
    article.append(el("header", { class: "card-head" },
      card.tier ? el("span", { class: `tier-badge tier-${tier}` }, card.tier) : null,
      el("h3", { class: "card-title" }, card.title || ""),
      badgeOf(card),
    ));
    const fields = Array.isArray(card.fields) ? card.fields : [];
    if (fields.length) {
      article.append(el("table", { class: "card-fields" }, el("tbody", null,
        fields.map((f) => el("tr", null, el("th", { scope: "row" }, f.label), el("td", null, f.value))))));
    }
    if (card.body) article.append(el("div", { class: "card-body" }, card.body));
    article.append(...sectionsOf(card));
    const links = linksOf(card);
    if (links) article.append(links);
    const buttons = Array.isArray(card.buttons) ? card.buttons : [];
    if (buttons.length) {
      const group = el("div", { class: "card-actions", role: "group" });
      for (const button of buttons) {
        const style = ["primary", "danger"].includes(button.style) ? button.style : "default";
        group.append(el("button", {
          type: "button",
          class: `btn btn-${style}`,
          "data-action": button.action,
          onclick: () => press(message, card, button, group),
        }, button.label));
      }
      article.append(group);
    }
    if (card.footer) article.append(el("footer", { class: "card-foot" }, card.footer));
    return article;
  }

  function fillMessage(node, message) {
    const mine = state.me && message.author === state.me.name && message.author !== "Tocsin";
    node.className = `msg kind-${message.kind}` + (message.author === "Tocsin" ? " msg-bot" : "")
      + (mine ? " msg-mine" : "") + (message.private ? " msg-private" : "");
    node.dataset.messageId = String(message.id);
    state.messages.set(message.id, message);
    const meta = el("div", { class: "msg-meta" },
      el("span", { class: "author" }, message.author),
      el("time", { datetime: message.created_at, title: message.created_at }, timeOf(message.created_at)),
      message.private ? el("span", { class: "private-tag" }, t("private")) : null,
      message.updated_at !== message.created_at ? el("span", { class: "edited" }, t("edited")) : null,
    );
    const content = message.kind === "card" && message.card
      ? renderCard(message, message.card)
      : el("div", { class: "msg-text" }, message.text);
    node.replaceChildren(meta, content);
  }

  function nearBottom() {
    const list = $("messages");
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollToBottom() {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
  }

  // A new message, or a known one changed: the same element is reused so cards update in place.
  function upsert(message, { appendIfNew }) {
    let node = state.nodes.get(message.id);
    if (node) {
      fillMessage(node, message);
      return;
    }
    if (!appendIfNew) return;
    const stick = nearBottom();
    $("empty").hidden = true;
    node = el("div", { class: "msg" });
    fillMessage(node, message);
    state.nodes.set(message.id, node);
    const list = $("messages");
    // Keep id order even if events arrive out of order.
    let before = null;
    for (const [id, other] of state.nodes) if (id > message.id && (!before || id < Number(before.dataset.messageId))) before = other;
    list.insertBefore(node, before);
    if (stick) scrollToBottom();
  }

  function notice(text, kind) {
    const stick = nearBottom();
    $("messages").append(el("div", { class: `notice notice-${kind || "error"}`, role: "status" }, text));
    if (stick) scrollToBottom();
  }

  function resetList() {
    state.nodes.clear();
    state.messages.clear();
    const empty = $("empty");
    empty.textContent = t("empty");
    empty.hidden = false;
    $("messages").replaceChildren(empty);
  }

  // ---- sending ----------------------------------------------------------------------------

  function connected() {
    return state.ws && state.ws.readyState === WebSocket.OPEN && state.me;
  }

  function send(data) {
    if (!connected()) {
      notice(t("not_connected"));
      return false;
    }
    state.ws.send(JSON.stringify(data));
    return true;
  }

  function setBusy(group, busy) {
    group.setAttribute("aria-busy", busy ? "true" : "false");
    for (const button of group.querySelectorAll("button")) button.disabled = busy;
  }

  function press(message, card, button, group) {
    if (button.confirm && !window.confirm(button.confirm)) return;
    const requestId = String(state.nextRequest++);
    setBusy(group, true);
    const sent = send({
      type: "action", message_id: message.id, action: button.action, value: button.value || "",
      card_ref: card.ref, request_id: requestId,
    });
    if (!sent) {
      setBusy(group, false);
      return;
    }
    state.pending.set(requestId, { group, timer: setTimeout(() => finish(requestId), PRESS_TIMEOUT_MS) });
  }

  function finish(requestId) {
    const pending = state.pending.get(requestId);
    if (!pending) return;
    state.pending.delete(requestId);
    clearTimeout(pending.timer);
    if (pending.group && pending.group.isConnected) setBusy(pending.group, false);
  }

  function finishAll() {
    for (const requestId of [...state.pending.keys()]) finish(requestId);
  }

  // ---- the socket -------------------------------------------------------------------------

  function hello() {
    return state.config.auth === "demo"
      ? { type: "hello", user: state.user }
      : { type: "hello", token: state.token };
  }

  function onEvent(event) {
    switch (event.type) {
      case "history":
        state.me = event.user;
        state.attempt = 0;
        useReader(event.user);
        resetList();
        for (const message of event.messages) upsert(message, { appendIfNew: true });
        scrollToBottom();
        setStatus("online", `${t("online")} · ${event.user.name}`);
        if (state.config.auth === "token") {
          $("signed-in-as").textContent = `${t("signed_in_as")} ${event.user.name}`;
          $("token-who").hidden = false;
        }
        break;
      case "message":
        upsert(event.message, { appendIfNew: true });
        break;
      case "update":
        upsert(event.message, { appendIfNew: false });
        break;
      case "reader":
        useReader(event);
        if (state.me) setStatus("online", `${t("online")} · ${state.me.name}`);
        if (state.me && state.config.auth === "token") {
          $("signed-in-as").textContent = `${t("signed_in_as")} ${state.me.name}`;
        }
        break;
      case "done":
        finish(String(event.request_id));
        break;
      case "error":
        notice(event.text);
        break;
      default:
        break;
    }
  }

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/console/ws?chat=${encodeURIComponent(state.chat)}`;
  }

  function disconnect() {
    clearTimeout(state.reconnectTimer);
    const ws = state.ws;
    state.ws = null;
    state.me = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.close(1000);
    }
    finishAll();
  }

  function connect() {
    disconnect();
    setStatus("connecting");
    const ws = new WebSocket(socketUrl());
    state.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify(hello()));
    ws.onmessage = (e) => {
      if (state.ws !== ws) return;
      let event;
      try { event = JSON.parse(e.data); } catch (_) { return; }
      onEvent(event);
    };
    ws.onclose = (e) => {
      if (state.ws !== ws) return;
      state.ws = null;
      state.me = null;
      finishAll();
      if (FATAL[e.code]) {
        setStatus("offline", e.reason || t("offline"));
        if (e.code === 4401 && state.config.auth === "token") {
          sessionStorage.removeItem(TOKEN_KEY);
          state.token = null;
          showSignIn(t("token_refused"));
        }
        return;
      }
      setStatus("offline");
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    clearTimeout(state.reconnectTimer);
    const base = Math.min(15000, 500 * 2 ** state.attempt);
    state.attempt += 1;
    const delay = base / 2 + Math.random() * base / 2;
    state.reconnectTimer = setTimeout(connect, delay);
  }

  // ---- header controls --------------------------------------------------------------------

  function showSignIn(error) {
    $("token-who").hidden = true;
    $("sign-in").hidden = false;
    const errorText = $("sign-in-error");
    errorText.textContent = error || "";
    errorText.hidden = !error;
    $("token-input").focus();
  }

  function fillChats(chats) {
    const select = $("chat-select");
    select.replaceChildren(
      ...chats.map((chat) => el("option", { value: chat }, `# ${chat}`)),
      el("option", { value: "@me" }, t("direct")),
    );
    const asked = new URLSearchParams(location.search).get("chat") || localStorage.getItem(CHAT_KEY);
    const valid = [...chats, "@me"];
    state.chat = valid.includes(asked) ? asked : valid[0];
    select.value = state.chat;
    select.addEventListener("change", () => {
      state.chat = select.value;
      localStorage.setItem(CHAT_KEY, state.chat);
      const url = new URL(location.href);
      url.searchParams.set("chat", state.chat);
      history.replaceState(null, "", url);
      resetList();
      connect();
    });
  }

  async function startDemo() {
    const banner = $("demo-banner");
    banner.hidden = false;
    banner.open = !window.matchMedia("(max-width: 600px)").matches;
    $("demo-who").hidden = false;
    const users = await (await fetch("/console/api/users")).json();
    const select = $("user-select");
    select.replaceChildren(...users.map((u) => el("option", { value: u.id },
      u.roles && u.roles.length ? `${u.name} (${u.roles.join(", ")})` : u.name)));
    const saved = localStorage.getItem(USER_KEY);
    state.user = users.some((u) => u.id === saved) ? saved : (users[0] && users[0].id);
    select.value = state.user || "";
    select.addEventListener("change", () => {
      state.user = select.value;
      localStorage.setItem(USER_KEY, state.user);
      resetList();
      connect();
    });
    if (state.config.demo_alert) {
      const button = $("demo-alert");
      button.hidden = false;
      button.addEventListener("click", fireDemoAlert);
    }
    connect();
  }

  async function fireDemoAlert() {
    const button = $("demo-alert");
    button.disabled = true;
    try {
      const response = await fetch("/console/api/demo-alert", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
      });
      const body = await response.json();
      notice(`${body.ok ? t("demo_fired") : t("failed")}: ${body.detail || body.error || ""}`,
        body.ok ? "info" : "error");
    } catch (err) {
      notice(`${t("failed")}: ${err}`);
    } finally {
      button.disabled = false;
    }
  }

  function startToken() {
    $("sign-in-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const token = $("token-input").value.trim();
      if (!token) return;
      state.token = token;
      sessionStorage.setItem(TOKEN_KEY, token);
      $("token-input").value = "";
      $("sign-in").hidden = true;
      connect();
    });
    $("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = null;
      disconnect();
      resetList();
      setStatus("offline", "—");
      showSignIn();
    });
    state.token = sessionStorage.getItem(TOKEN_KEY);
    if (state.token) connect();
    else showSignIn();
  }

  async function start() {
    setStatus("connecting", "…");
    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = $("input");
      const text = input.value.trim();
      if (!text) return;
      if (send({ type: "command", text, request_id: String(state.nextRequest++) })) input.value = "";
    });
    state.config = await (await fetch("/console/api/config")).json();
    if (state.config.texts && state.config.texts.en) TEXTS = state.config.texts;
    translatePage();
    setStatus("connecting");
    fillChats(state.config.chats);
    resetList();
    if (state.config.auth === "demo") await startDemo();
    else startToken();
  }

  document.addEventListener("DOMContentLoaded", () => {
    start().catch((err) => notice(`${t("failed")}: ${err}`));
  });
})();
