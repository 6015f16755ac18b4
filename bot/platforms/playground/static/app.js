// jifen playground: plain JS, no build step, no external URLs.
// Card HTML comes from the server (cards/render_html.py), where every piece of text is escaped.
"use strict";

(function () {
  const API = "/playground/api";
  const POLL_MS = 2000;
  const STORE_KEY = "jifen.playground.as";
  const select = document.getElementById("employee");
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  const people = new Map(); // employee_id -> {name, department, roles}
  const logs = new Map(); // employee_id -> <section> holding that employee's conversation
  let polling = false;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function current() {
    return select.value;
  }

  function conversation(id) {
    if (!logs.has(id)) {
      const section = el("section", "conversation");
      section.dataset.employee = id;
      const who = people.get(id);
      const intro = who ? `你现在是 ${who.name}（${id}，${who.department || "—"}）` : id;
      section.appendChild(el("p", "system", `${intro} · You are acting as ${id}`));
      logs.set(id, section);
      log.appendChild(section);
    }
    return logs.get(id);
  }

  function show(id) {
    for (const [key, section] of logs) section.hidden = key !== id;
    conversation(id).hidden = false;
    scrollDown();
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function add(id, node) {
    conversation(id).appendChild(node);
    if (id === current()) scrollDown();
  }

  function userBubble(id, text) {
    const row = el("div", "row row-user");
    row.appendChild(el("div", "bubble bubble-user", text));
    add(id, row);
  }

  function cardRow(id, card, label) {
    const row = el("div", label ? "row row-bot row-push" : "row row-bot");
    if (label) row.appendChild(el("span", "badge", label));
    const holder = el("div", "card-holder");
    const template = document.createElement("template");
    template.innerHTML = card.html; // escaped by the server's HTML renderer
    holder.appendChild(template.content);
    row.appendChild(holder);
    add(id, row);
  }

  function errorRow(id, message) {
    add(id, el("p", "system system-error", `出错了 Error: ${message}`));
  }

  async function call(method, path, body) {
    const options = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(API + path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  }

  async function send(text) {
    const id = current();
    if (!id || !text.trim()) return;
    userBubble(id, text);
    try {
      const data = await call("POST", "/send", { as: id, text });
      data.cards.forEach((card) => cardRow(id, card));
    } catch (err) {
      errorRow(id, err.message);
    }
    poll();
  }

  async function click(button) {
    const id = current();
    const card = button.closest(".card");
    userBubble(id, `［${button.textContent}］`);
    const buttons = card ? card.querySelectorAll("button[data-action]") : [button];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const data = await call("POST", "/click", { as: id, action: button.dataset.action });
      data.cards.forEach((c) => cardRow(id, c));
      if (card) card.classList.add("card-settled");
    } catch (err) {
      buttons.forEach((b) => { b.disabled = false; });
      errorRow(id, err.message);
    }
    poll();
  }

  async function poll() {
    const id = current();
    if (!id || polling) return;
    polling = true;
    try {
      const data = await call("GET", `/inbox?as=${encodeURIComponent(id)}`);
      data.cards.forEach((card) => cardRow(id, card, "通知 Notification"));
      status.textContent = "已连接 Connected";
      status.classList.remove("status-down");
    } catch (err) {
      status.textContent = `连接断开 Offline (${err.message})`;
      status.classList.add("status-down");
    } finally {
      polling = false;
    }
  }

  function optionText(e) {
    const roles = e.roles.filter((r) => r !== "employee");
    const tags = roles.length ? ` [${roles.join(", ")}]` : "";
    return `${e.employee_id} ${e.name} · ${e.department || "—"}${tags}`;
  }

  async function loadEmployees() {
    const data = await call("GET", "/employees");
    select.textContent = "";
    for (const e of data.employees) {
      people.set(e.employee_id, e);
      const option = el("option", "", optionText(e));
      option.value = e.employee_id;
      select.appendChild(option);
    }
    const wanted = new URLSearchParams(location.search).get("as") || localStorage.getItem(STORE_KEY);
    if (wanted && people.has(wanted)) select.value = wanted;
  }

  function onSwitch() {
    localStorage.setItem(STORE_KEY, current());
    show(current());
    poll();
    input.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    send(text);
  });
  log.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button && !button.disabled) click(button);
  });
  document.getElementById("chips").addEventListener("click", (event) => {
    const chip = event.target.closest("button[data-text]");
    if (chip) send(chip.dataset.text);
  });
  select.addEventListener("change", onSwitch);
  // the employee mall as the chosen employee: a fresh one-time sign-in link, opened in a new tab
  document.getElementById("open-mall").addEventListener("click", async () => {
    try {
      const data = await call("POST", "/mall", { as: current() });
      window.open(data.url, "_blank", "noopener");
    } catch (err) {
      status.textContent = `无法打开商城 Cannot open the mall (${err.message})`;
    }
  });

  loadEmployees()
    .then(() => {
      document.body.dataset.ready = "1";
      onSwitch();
      setInterval(poll, POLL_MS);
    })
    .catch((err) => {
      status.textContent = `无法加载员工 Cannot load employees (${err.message})`;
      status.classList.add("status-down");
    });
})();
