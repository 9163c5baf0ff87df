// Tocsin web console: plain JavaScript, no build step, no external resources.
// Every piece of text from the server is put into the page with textContent / text nodes,
// never as HTML.
(function () {
  "use strict";

  const TEXTS = {
    en: {
      chat: "Chat", you_are: "You are", fire_demo: "Fire demo alert", sign_out: "Sign out",
      demo_title: "Demo mode.",
      demo_text: "Anyone who can open this page can act as any user. Do not use demo mode in production.",
      loading: "Loading…", send: "Send", sign_in_title: "Sign in to the Tocsin console",
      sign_in_text: "Paste your console sign-in token (console.tokens in Tocsin's configuration).",
      sign_in: "Sign in", placeholder: "Type a command, e.g. /help — commands start with /",
      direct: "Direct messages (only you)", empty: "No messages yet. Type /help to start.",
      online: "online", connecting: "connecting…", offline: "offline — reconnecting",
      private: "only visible to you", signed_in_as: "Signed in as", not_connected: "Not connected yet; try again in a moment.",
      token_refused: "That token was not accepted.", demo_fired: "Demo alert sent",
      failed: "Request failed", edited: "updated",
    },
    zh: {
      chat: "群聊", you_are: "当前身份", fire_demo: "触发演示告警", sign_out: "退出",
      demo_title: "演示模式。",
      demo_text: "任何能打开此页面的人都可以扮演任何用户。请勿在生产环境使用演示模式。",
      loading: "加载中…", send: "发送", sign_in_title: "登录 Tocsin 控制台",
      sign_in_text: "请粘贴你的控制台登录令牌（Tocsin 配置中的 console.tokens）。",
      sign_in: "登录", placeholder: "输入命令，例如 /help（命令以 / 开头）",
      direct: "私聊（仅自己可见）", empty: "暂无消息。输入 /help 开始。",
      online: "在线", connecting: "连接中…", offline: "已断开，正在重连",
      private: "仅你可见", signed_in_as: "已登录：", not_connected: "尚未连接，请稍后再试。",
      token_refused: "令牌无效。", demo_fired: "演示告警已发送",
      failed: "请求失败", edited: "已更新",
    },
  };
  const LANG = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
  const t = (key) => (TEXTS[LANG][key] || TEXTS.en[key] || key);

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
  }

  function setStatus(kind, text) {
    const status = $("status");
    status.dataset.state = kind;
    status.textContent = text || t(kind);
    $("send").disabled = kind !== "online";
  }

  // ---- messages ---------------------------------------------------------------------------

  function timeOf(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function statusKey(status) {
    const s = String(status || "").toLowerCase();
    if (/resolv|closed|recovered|ok\b|已解决|已恢复|恢复/.test(s)) return "resolved";
    if (/silenc|mute|已静默|静默/.test(s)) return "silenced";
    if (/ack|确认|处理中/.test(s)) return "acked";
    if (/fir|open|trigger|alert|告警/.test(s)) return "firing";
    return "other";
  }

  function renderCard(message, card) {
    const tier = card.tier ? String(card.tier).toLowerCase() : "none";
    const article = el("article", { class: `card tier-${tier}`, "data-tier": card.tier || "" });
    article.append(el("header", { class: "card-head" },
      card.tier ? el("span", { class: `tier-badge tier-${tier}` }, card.tier) : null,
      el("h3", { class: "card-title" }, card.title || ""),
      card.status ? el("span", { class: "status-badge", "data-status": statusKey(card.status) }, card.status) : null,
    ));
    const fields = Array.isArray(card.fields) ? card.fields : [];
    if (fields.length) {
      article.append(el("table", { class: "card-fields" }, el("tbody", null,
        fields.map((f) => el("tr", null, el("th", { scope: "row" }, f.label), el("td", null, f.value))))));
    }
    if (card.body) article.append(el("div", { class: "card-body" }, card.body));
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
    $("demo-banner").hidden = false;
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
    translatePage();
    setStatus("connecting");
    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = $("input");
      const text = input.value.trim();
      if (!text) return;
      if (send({ type: "command", text, request_id: String(state.nextRequest++) })) input.value = "";
    });
    state.config = await (await fetch("/console/api/config")).json();
    fillChats(state.config.chats);
    resetList();
    if (state.config.auth === "demo") await startDemo();
    else startToken();
  }

  document.addEventListener("DOMContentLoaded", () => {
    start().catch((err) => notice(`${t("failed")}: ${err}`));
  });
})();
