// The Scopix page: sign in, upload, browse, sort into folders, search and inspect. No framework,
// no build step.
// The server renders every piece of HTML; this script fetches it with the key, wires the
// controls and follows the server's events to refresh what each one touches.
"use strict";

const KEY_STORAGE = "scopix.apiKey";
const CURSOR_STORAGE = "scopix.eventsCursor"; // where the page follows on from after a reload
const EVENTS_RETRY_MS = 1000; // the first wait before following again (the server's `retry:`)
const EVENTS_RETRY_MAX_MS = 30000; // each failure doubles the wait, up to this
const EVENTS_BATCH_MS = 300; // the events of a burst are one refresh
const EVENTS_HIDDEN_MS = 5 * 60 * 1000; // a page hidden this long stops following
const CARDS_AT_ONCE = 100; // the most cards one `/ui/cards` answers
const UPLOADS_AT_ONCE = 3;
const UPLOAD_ATTEMPTS = 4;
const FILE_DRAG = "application/x-scopix-file"; // a card dragged onto a folder carries its id

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
  toString() {
    return `${this.message} (${this.code})`;
  }
}

// --- the key and the calls that carry it ---------------------------------------------------

let apiKey = sessionStorage.getItem(KEY_STORAGE);

async function errorOf(status, text, retryAfter) {
  try {
    const { error } = JSON.parse(text);
    return new ApiError(status, error.code, error.message, retryAfter);
  } catch {
    return new ApiError(status, `HTTP_${status}`, `the server answered ${status}`, retryAfter);
  }
}

async function call(path, { method = "GET", json, html = false } = {}) {
  const headers = { Authorization: `Bearer ${apiKey}` };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["Idempotency-Key"] = newId();
  for (;;) {
    const response = await fetch(path, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      cache: "no-store",
    });
    const retryAfter = Number(response.headers.get("Retry-After")) || 0;
    if (response.status === 429 && retryAfter) {
      await sleep(retryAfter * 1000); // the tenant's rate limit: wait as told, then again
      continue;
    }
    if (response.status === 401) {
      signOut("The server refused this key: sign in again.");
    }
    if (!response.ok) throw await errorOf(response.status, await response.text(), retryAfter);
    if (response.status === 204) return { body: null, headers: response.headers };
    const body = html ? await response.text() : await response.json();
    return { body, headers: response.headers };
  }
}

function newId() {
  if (crypto.randomUUID) return crypto.randomUUID(); // only in secure contexts
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
}

function fragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  paintBlurhashes(template.content);
  return template.content;
}

// --- sign in and out ------------------------------------------------------------------------

function showApp(signedIn) {
  $("#sign-in").hidden = signedIn;
  $("#app").hidden = !signedIn;
  $("#sign-out").hidden = !signedIn;
}

async function signIn(event) {
  event.preventDefault();
  const input = $("#api-key");
  apiKey = input.value.trim();
  $("#sign-in-error").textContent = "";
  try {
    await loadGallery();
  } catch (error) {
    // A wrong filter or a deleted folder in the address is not a wrong key: the gallery says
    // what is wrong (and the folder tree goes back to all files).
    const keyAccepted = error instanceof ApiError && (error.status === 422 || error.status === 404);
    if (!keyAccepted) {
      if (error.status !== 401) $("#sign-in-error").textContent = `Could not sign in: ${error}`;
      return;
    }
  }
  sessionStorage.setItem(KEY_STORAGE, apiKey);
  input.value = "";
  showApp(true);
  refreshFolders();
  startEvents();
}

function signOut(message = "") {
  apiKey = null;
  sessionStorage.removeItem(KEY_STORAGE);
  stopEvents();
  keepCursor(null);
  forgetTouched();
  $("#gallery").replaceChildren();
  $("#folder-tree").replaceChildren();
  $("#crumbs").replaceChildren();
  if ($("#move").open) $("#move").close();
  if ($("#detail").open) $("#detail").close();
  $("#sign-in-error").textContent = message;
  showApp(false);
  $("#api-key").focus();
}

// --- the gallery ----------------------------------------------------------------------------

let nextOffset = null;
let total = 0;
let generation = 0; // a new search outdates the answers of the ones before it
let appending = false;

function filterParams() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData($("#filters"))) {
    if (String(value).trim()) params.set(name, String(value).trim());
  }
  if (params.get("search_mode") === "all" && !params.has("search")) params.delete("search_mode");
  return params;
}

// Whether anything but the open folder narrows the gallery.
function isFiltered() {
  const params = filterParams();
  params.delete("search_mode");
  params.delete("folder_id");
  return params.size > 0;
}

// Whether a file the gallery does not show yet belongs in it (a new upload, a saved link):
// `folderId` is where it is ("" or null at the top level).
function belongsHere(folderId) {
  return !isFiltered() && (openFolder === null || folderId === openFolder);
}

async function loadGallery({ append = false } = {}) {
  if (append && (appending || nextOffset === null)) return;
  const mine = append ? generation : ++generation;
  const params = filterParams();
  if (append) {
    params.set("offset", String(nextOffset));
    appending = true;
  }
  try {
    const { body, headers } = await call(`/ui/gallery?${params}`, { html: true });
    if (mine !== generation) return;
    const cards = fragment(body);
    if (append) $("#gallery").append(cards);
    else $("#gallery").replaceChildren(cards);
    nextOffset = headers.get("X-Next-Offset");
    $("#load-more").hidden = nextOffset === null;
    total = Number(headers.get("X-Total-Count"));
    summarize(total);
    $("#gallery-error").textContent = "";
  } catch (error) {
    if (mine === generation) $("#gallery-error").textContent = `${error}`;
    throw error;
  } finally {
    if (append) appending = false;
  }
}

function summarize(count) {
  const many = count.toLocaleString();
  if (!isFiltered() && openFolder !== null) {
    $("#summary").textContent =
      count === 0
        ? "This folder is empty: files dropped above go into it."
        : `${many} ${count === 1 ? "file" : "files"} in this folder`;
  } else if (!isFiltered()) {
    $("#summary").textContent =
      count === 0 ? "No files yet: drop some images, documents or videos above." : `${many} ${count === 1 ? "file" : "files"}`;
  } else {
    $("#summary").textContent = count === 1 ? "1 file matches" : `${many} files match`;
  }
}

async function applyFilters(event) {
  event.preventDefault();
  const params = filterParams();
  history.replaceState(null, "", params.size ? `/?${params}` : "/");
  await loadGallery().catch(() => {});
}

function loadMoreWhenSeen() {
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && apiKey) {
      loadGallery({ append: true }).catch(() => {});
    }
  });
  observer.observe($("#load-more"));
  $("#load-more").addEventListener("click", () => loadGallery({ append: true }).catch(() => {}));
}

// --- following the server's events ----------------------------------------------------------

// One stream per open page: `GET /api/v2/events` as server-sent events, read through fetch so
// that the key travels in its header (EventSource sends none, and no URL ever holds the key).
// Each event refreshes only what it touches, a burst of them at once. A stream that fails or
// ends is opened again from the last event seen, after a wait that doubles with each failure.
const feed = {
  run: 0,
  abort: null,
  cursor: sessionStorage.getItem(CURSOR_STORAGE),
  retryMs: EVENTS_RETRY_MS,
  hiddenTimer: null,
};
// What the events since the last refresh touched: cards shown, new cards, files gone, the
// open detail view, the folder counts.
const touched = {};
forgetTouched();

function forgetTouched() {
  clearTimeout(touched.timer);
  const nothing = { shown: new Set(), added: new Set(), gone: new Set(), detail: null };
  Object.assign(touched, { ...nothing, folders: false, timer: null });
}

function startEvents() {
  if (feed.abort || !apiKey) return; // following already, or signed out
  const run = ++feed.run;
  const abort = new AbortController();
  feed.abort = abort;
  followEvents(run, abort.signal).finally(() => {
    if (feed.abort === abort) feed.abort = null;
  });
}

function stopEvents() {
  feed.run += 1;
  feed.abort?.abort();
  feed.abort = null;
}

async function followEvents(run, signal) {
  let wait = feed.retryMs;
  while (run === feed.run) {
    try {
      if (feed.cursor === null) await catchUp(run);
      if (run !== feed.run) return;
      const response = await fetch(`/api/v2/events?after=${encodeURIComponent(feed.cursor)}`, {
        headers: { Authorization: `Bearer ${apiKey}`, Accept: "text/event-stream" },
        cache: "no-store",
        signal,
      });
      if (response.status === 401) signOut("The server refused this key: sign in again.");
      if (response.status === 422) keepCursor(null); // not a cursor of this server's: from now
      if (response.ok) {
        wait = feed.retryMs;
        await readEvents(response.body, (event) => onStreamEvent(run, event), (ms) => {
          feed.retryMs = ms;
        });
      } else {
        const retryAfter = Number(response.headers.get("Retry-After")) || 0;
        wait = Math.max(wait, retryAfter * 1000); // the rate limit says how long
      }
    } catch {
      // The network failed, or the stream was stopped: the run tells which.
    }
    if (run !== feed.run) return;
    await sleep(wait * (0.75 + Math.random() / 2)); // pages reconnecting together spread out
    wait = Math.min(wait * 2, EVENTS_RETRY_MAX_MS);
  }
}

function keepCursor(cursor) {
  feed.cursor = cursor;
  if (cursor === null) sessionStorage.removeItem(CURSOR_STORAGE);
  else sessionStorage.setItem(CURSOR_STORAGE, cursor);
}

// Where the stream stands now, for a page signed in afresh: the gallery, drawn already, is
// newer than what came before. A card that was still moving may have settled between the
// gallery's answer and this one: it is fetched again.
async function catchUp(run) {
  const { body } = await call("/api/v2/events?after=now&timeout=0");
  if (run !== feed.run) return;
  const cursor = body.next_cursor;
  keepCursor(cursor);
  for (const card of $$("#gallery .card[data-moving='yes']")) touched.shown.add(card.dataset.id);
  if (openFileId !== null && $("#detail-body .detail[data-moving='yes']")) {
    touched.detail = openFileId;
  }
  refreshSoon();
}

// Reads a `text/event-stream` body as the HTML standard says ("event stream interpretation"):
// `onEvent({ type, data, id })` for each event, `onRetry(ms)` for a reconnection time. Ends
// with the stream.
async function readEvents(body, onEvent, onRetry = () => {}) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let partial = ""; // a line not ended yet; a lone "\r" at the end may be half of "\r\n"
  let event = { type: "", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const lines = (partial + value).split(/\r\n|\r(?!$)|\n/);
    partial = lines.pop();
    for (const line of lines) {
      if (line === "") {
        if (event.data.length) {
          onEvent({ type: event.type || "message", data: event.data.join("\n"), id: event.id });
        }
        event = { type: "", data: [], id: null };
        continue;
      }
      const colon = line.indexOf(":");
      if (colon === 0) continue; // a comment: the server's keep-alive
      const field = colon < 0 ? line : line.slice(0, colon);
      const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") event.data.push(text);
      else if (field === "event") event.type = text;
      else if (field === "id" && !text.includes("\0")) event.id = text;
      else if (field === "retry" && /^\d+$/.test(text)) onRetry(Number(text));
    }
  }
}

function onStreamEvent(run, { type, data, id }) {
  if (run !== feed.run) return;
  if (id) keepCursor(id);
  let payload;
  try {
    payload = JSON.parse(data);
  } catch {
    return; // not one of ours: nothing to refresh
  }
  touch(type, payload.data ?? {});
}

// What an event touches: its file's card wherever the page shows it (the gallery, the upload
// list, the detail view), a new card where the gallery lists it, the folder counts.
function touch(type, { file_id: id, folder_id: folderId = null }) {
  if (!id) return; // a batch's end: its files had events of their own
  if (type === "file.deleted") {
    touched.gone.add(id);
    touched.folders = true;
  } else if (type === "file.uploaded" || type === "file.restored") {
    touched.folders = true;
    if (!cardOf(id) && belongsHere(folderId)) touched.added.add(id);
  } else {
    if (cardOf(id) || uploadRowOf(id)) touched.shown.add(id);
    if (openFileId === id) touched.detail = id;
  }
  refreshSoon();
}

function refreshSoon() {
  const { shown, added, gone, detail, folders } = touched;
  if (shown.size || added.size || gone.size || detail !== null || folders) {
    touched.timer ??= setTimeout(refreshTouched, EVENTS_BATCH_MS);
  }
}

async function refreshTouched() {
  const { shown, added, gone, detail, folders } = touched;
  forgetTouched(); // new sets: these stay as they are
  if (!apiKey) return;
  for (const id of gone) forget(id);
  const without = (ids) => Array.from(ids).filter((id) => !gone.has(id));
  await refreshCardsAll(without(shown));
  await refreshCardsAll(without(added), { add: true });
  if (detail !== null && detail === openFileId && !gone.has(detail)) {
    openDetail(detail, { again: true }).catch(() => {});
  }
  if (folders) refreshFolders();
}

async function refreshCardsAll(ids, options) {
  for (let at = 0; at < ids.length; at += CARDS_AT_ONCE) {
    await refreshCards(ids.slice(at, at + CARDS_AT_ONCE), options).catch(() => {});
  }
}

// A file deleted (here or elsewhere) leaves the gallery and the detail view.
function forget(id) {
  const card = cardOf(id);
  if (card) {
    card.remove();
    summarize((total -= 1));
  }
  if (openFileId === id) $("#detail").close();
}

// The page stops following when hidden for long, and follows on from there when shown again.
function onVisibilityChange() {
  clearTimeout(feed.hiddenTimer);
  if (document.hidden) feed.hiddenTimer = setTimeout(stopEvents, EVENTS_HIDDEN_MS);
  else startEvents();
}

const cardOf = (id) => $(`#gallery .card[data-id="${CSS.escape(id)}"]`);
const uploadRowOf = (id) => $(`#upload-list .upload[data-id="${CSS.escape(id)}"]`);

// A card drawn again at any moment keeps a keyboard user's place: its link or its button.
function replaceCard(shown, card) {
  const focused = [".open", ".move"].find((part) => $(part, shown) === document.activeElement);
  shown.replaceWith(card);
  if (focused) $(focused, card)?.focus();
}

// The cards of these files as they stand now, in place; with `add`, one not shown yet joins the
// gallery where it belongs (a new file). An upload's row follows its card's status.
async function refreshCards(ids, { add = false } = {}) {
  const { body } = await call(`/ui/cards?ids=${ids.join(",")}`, { html: true });
  for (const card of $$(".card", fragment(body))) {
    const shown = cardOf(card.dataset.id);
    if (shown) replaceCard(shown, card);
    else if (add && belongsHere(card.dataset.folder)) {
      $("#gallery").prepend(card);
      summarize((total += 1));
    }
    updateUploadRow(card.dataset.id, card.dataset.status);
  }
}

// --- uploads --------------------------------------------------------------------------------

const uploadQueue = [];
let uploadsRunning = 0;

function addFiles(files) {
  const maxBytes = Number($("#file-input").dataset.maxBytes);
  for (const file of files) {
    const row = document.createElement("li");
    row.className = "upload";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `Upload of ${file.name}`);
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = "waiting";
    row.append(name, bar, state);
    $("#upload-list").prepend(row);
    if (file.size > maxBytes) {
      row.classList.add("failed");
      state.textContent =
        "failed: too large for the page; `scopix upload` sends big files in parts (FILE_TOO_LARGE)";
      continue;
    }
    uploadQueue.push({ file, row, bar, state, folderId: openFolder }); // where it was dropped
  }
  while (uploadsRunning < UPLOADS_AT_ONCE && uploadQueue.length) runUploads();
}

async function runUploads() {
  uploadsRunning += 1;
  try {
    while (uploadQueue.length) await upload(uploadQueue.shift());
  } finally {
    uploadsRunning -= 1;
  }
}

async function upload(item) {
  const idempotencyKey = newId(); // one per file, kept across retries: never stored twice
  for (let attempt = 1; ; attempt += 1) {
    item.state.textContent = "uploading";
    let answer;
    try {
      answer = await send(item, idempotencyKey);
    } catch {
      answer = { status: 0, text: "", retryAfter: 0 };
    }
    if (answer.status === 201) return uploaded(item, JSON.parse(answer.text));
    const retryable = answer.status === 0 || answer.status === 429 || answer.status >= 500;
    if (!retryable || attempt === UPLOAD_ATTEMPTS) {
      const error = answer.status
        ? await errorOf(answer.status, answer.text, 0)
        : new ApiError(0, "CONNECTION_ERROR", "the connection failed", 0);
      item.row.classList.add("failed");
      item.state.textContent = `failed: ${error}`;
      if (answer.status === 401) signOut("The server refused this key: sign in again.");
      return;
    }
    item.state.textContent = "retrying";
    await sleep(answer.retryAfter ? answer.retryAfter * 1000 : 2 ** attempt * 500);
  }
}

function send(item, idempotencyKey) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/api/v2/files/upload");
    request.setRequestHeader("Authorization", `Bearer ${apiKey}`);
    request.setRequestHeader("Idempotency-Key", idempotencyKey);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) item.bar.value = (event.loaded / event.total) * 100;
    });
    request.addEventListener("load", () =>
      resolve({
        status: request.status,
        text: request.responseText,
        retryAfter: Number(request.getResponseHeader("Retry-After")) || 0,
      }),
    );
    request.addEventListener("error", () => reject(new Error("connection failed")));
    const form = new FormData();
    form.append("file", item.file, item.file.name);
    if (item.folderId) form.append("folder_id", item.folderId);
    request.send(form);
  });
}

function uploaded(item, result) {
  item.bar.value = 100;
  item.row.dataset.id = result.image_id;
  item.state.textContent = result.deduplicated
    ? `${result.description_status} (already stored)`
    : result.description_status;
  refreshCards([result.image_id], { add: true }).catch(() => {}); // events bring the rest
}

function updateUploadRow(id, status) {
  for (const row of $$(`#upload-list .upload[data-id="${id}"]`)) {
    $(".state", row).textContent = status;
    row.classList.toggle("done", status === "completed");
    row.classList.toggle("failed", status === "failed");
  }
}

function wireDropzone() {
  const zone = $("#dropzone");
  const input = $("#file-input");
  input.addEventListener("change", () => {
    addFiles(Array.from(input.files));
    input.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    if (event.dataTransfer.types.includes(FILE_DRAG)) return; // a card, not a file to upload
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    addFiles(Array.from(event.dataTransfer.files));
  });
}

// --- links ----------------------------------------------------------------------------------

// The server fetches the page; the answer is the link's card, which events refresh as the
// page is read, like an upload's (and the folder counts).
async function addLink(event) {
  event.preventDefault();
  const input = $("#link-url");
  const button = $("#link-form button");
  $("#link-error").textContent = "";
  button.disabled = true;
  try {
    const json = { url: input.value.trim(), folder_id: openFolder };
    const { body } = await call("/ui/links", { method: "POST", json, html: true });
    const card = $(".card", fragment(body));
    const shown = cardOf(card.dataset.id);
    if (shown) replaceCard(shown, card);
    else if (belongsHere(card.dataset.folder)) {
      $("#gallery").prepend(card);
      summarize((total += 1));
    }
    input.value = "";
  } catch (error) {
    $("#link-error").textContent = `Not added: ${error}`;
  } finally {
    button.disabled = false;
  }
}

// --- folders --------------------------------------------------------------------------------

// The server renders the tree (each folder with its file count), the path to the open folder
// and the folders a file can move to; the page keeps which folders are expanded. The open
// folder is in the filters' hidden field, so it is in the address like a search.
let openFolder = null;
const expanded = new Set();
let foldersGeneration = 0;

async function loadFolders() {
  const mine = ++foldersGeneration;
  const query = openFolder ? `?folder_id=${encodeURIComponent(openFolder)}` : "";
  const { body } = await call(`/ui/folders${query}`, { html: true });
  if (mine !== foldersGeneration || !apiKey) return;
  const parts = fragment(body);
  const tree = $("#folder-tree", parts);
  if (openFolder !== null && tree.dataset.open !== openFolder) {
    await openFolderView(null); // deleted since it was opened: back to every file
    return;
  }
  const focused = focusInFolders();
  $("#folder-tree").replaceWith(tree);
  $("#crumbs").replaceWith($("#crumbs", parts));
  const select = $("#move-folder");
  const chosen = select.value;
  select.replaceChildren(...$("#folder-choices", parts).children);
  select.value = chosen;
  if (select.selectedIndex < 0) select.selectedIndex = 0;
  $("#new-folder").hidden = tree.dataset.write !== "yes";
  expandToOpenFolder();
  showExpanded();
  if (focused) $(focused)?.focus();
  describeWhere();
  $("#folder-error").textContent = "";
}

function refreshFolders() {
  loadFolders().catch(showFolderError);
}

function showFolderError(error) {
  $("#folder-error").textContent = `${error}`;
}

async function openFolderView(id) {
  openFolder = id || null;
  $("#f-folder").value = openFolder ?? "";
  const params = filterParams();
  history.replaceState(null, "", params.size ? `/?${params}` : "/");
  $("#clear-filters").href = openFolder ? `/?folder_id=${encodeURIComponent(openFolder)}` : "/";
  for (const button of $$("#folder-tree .folder")) {
    if (button.dataset.folder === (openFolder ?? "")) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  describeWhere();
  await Promise.all([loadGallery().catch(() => {}), loadFolders().catch(showFolderError)]);
}

function folderButton(id) {
  return $(`#folder-tree .folder[data-folder="${CSS.escape(id ?? "")}"]`);
}

// Re-rendering the tree must not lose a keyboard user's place: the same control gets the
// focus back, and a step of the path hands it to its folder in the tree.
function focusInFolders() {
  const active = document.activeElement;
  if (!active?.closest("#folder-tree, #crumbs")) return null;
  if (active.classList.contains("twisty")) {
    return `li[data-id="${CSS.escape(active.closest("li").dataset.id)}"] > .folder-row > .twisty`;
  }
  if (active.dataset.folder === undefined) return null;
  return `#folder-tree .folder[data-folder="${CSS.escape(active.dataset.folder)}"]`;
}

// The folders above the open one are expanded, so that it shows.
function expandToOpenFolder() {
  let item = openFolder ? folderButton(openFolder)?.closest("li") : null;
  while ((item = item?.parentElement?.closest("li[data-id]"))) expanded.add(item.dataset.id);
}

function showExpanded() {
  for (const twisty of $$("#folder-tree .twisty")) {
    const open = expanded.has(twisty.closest("li").dataset.id);
    twisty.setAttribute("aria-expanded", String(open));
    document.getElementById(twisty.getAttribute("aria-controls")).hidden = !open;
  }
}

function toggleFolder(twisty) {
  const id = twisty.closest("li").dataset.id;
  if (!expanded.delete(id)) expanded.add(id);
  showExpanded();
}

// Where uploads, links and new folders go: the open folder.
function describeWhere() {
  const name = openFolder ? folderButton(openFolder)?.dataset.name : null;
  $("#upload-where").textContent = name ? `Uploads and links go into “${name}”.` : "";
  $("#new-folder-where").textContent = name ? `Inside “${name}”` : "At the top level";
}

function say(message, { error = false } = {}) {
  const status = $("#folder-status");
  status.textContent = message;
  status.classList.toggle("error", error);
}

function showNewFolder(shown) {
  $("#new-folder-form").hidden = !shown;
  $("#new-folder").setAttribute("aria-expanded", String(shown));
  $("#new-folder-error").textContent = "";
  if (shown) $("#new-folder-name").focus();
  else $("#new-folder").focus();
}

async function createFolder(event) {
  event.preventDefault();
  const input = $("#new-folder-name");
  const button = $("#new-folder-form button[type='submit']");
  const json = { name: input.value.trim(), parent_id: openFolder, project_id: null };
  button.disabled = true;
  let made;
  try {
    ({ body: made } = await call("/api/v2/folders", { method: "POST", json }));
  } catch (error) {
    $("#new-folder-error").textContent = `Not created: ${error}`;
    return;
  } finally {
    button.disabled = false;
  }
  if (openFolder) expanded.add(openFolder);
  input.value = "";
  showNewFolder(false);
  say(`Created the folder “${made.name}”.`);
  await loadFolders().catch(showFolderError);
  folderButton(made.id)?.focus();
}

// Moving a file: dropped on a folder, or chosen in the "Move to…" dialog. The file leaves a
// folder it no longer is in; the counts are read again.
async function moveFile(id, folderId) {
  const card = $(`#gallery .card[data-id="${CSS.escape(id)}"]`);
  const name = card?.querySelector(".move")?.dataset.name ?? "the file";
  const json = { file_ids: [id], folder_id: folderId };
  const { body } = await call("/api/v2/folders/move-files", { method: "POST", json });
  if (!body.moved.includes(id)) throw new ApiError(404, "NOT_FOUND", "the file was deleted", 0);
  const where = folderId ? `to “${folderButton(folderId)?.dataset.name ?? "a folder"}”` : "out of its folder";
  say(`Moved “${name}” ${where}.`);
  if (openFolder !== null && folderId !== openFolder) {
    if (card) {
      card.remove();
      summarize((total -= 1));
    }
  } else {
    await refreshCards([id]).catch(() => {});
  }
  refreshFolders();
}

let moving = null; // the file whose "Move to…" dialog is open, and where its card was

function openMoveDialog(button) {
  const card = button.closest(".card");
  moving = { id: card.dataset.id, at: $$("#gallery .card").indexOf(card) };
  $("#move-title").textContent = `Move “${button.dataset.name}”`;
  const select = $("#move-folder");
  select.value = card.dataset.folder;
  if (select.selectedIndex < 0) select.selectedIndex = 0;
  $("#move-error").textContent = "";
  $("#move").showModal();
}

async function onMoveSubmit(event) {
  event.preventDefault();
  const button = $("#move-form button[type='submit']");
  button.disabled = true;
  try {
    await moveFile(moving.id, $("#move-folder").value || null);
    $("#move").close();
  } catch (error) {
    $("#move-error").textContent = `Not moved: ${error}`;
  } finally {
    button.disabled = false;
  }
}

// The focus goes back to the card, or to the one now where it was when it left the folder.
function onMoveClosed() {
  if (!moving || $("#move").open) return; // a late "close" of the time before: opened again
  const card = $(`#gallery .card[data-id="${CSS.escape(moving.id)}"]`);
  const cards = $$("#gallery .card .open");
  const next = card ? $(".move", card) : cards[Math.min(moving.at, cards.length - 1)];
  (next ?? folderButton(openFolder))?.focus();
  moving = null;
}

function onCardDragStart(event) {
  const card = event.target.closest?.("#gallery .card[draggable='true']");
  if (!card) return;
  event.dataTransfer.setData(FILE_DRAG, card.dataset.id);
  event.dataTransfer.effectAllowed = "move";
  card.classList.add("dragging");
  document.body.classList.add("dragging-file"); // the folders show where it can go
}

function onCardDragEnd() {
  for (const card of $$("#gallery .card.dragging")) card.classList.remove("dragging");
  document.body.classList.remove("dragging-file");
}

function folderDropTarget(event) {
  if (!event.dataTransfer.types.includes(FILE_DRAG)) return null;
  return event.target.closest?.("#folder-tree .folder, #crumbs .crumb") ?? null;
}

function onFolderDragOver(event) {
  const target = folderDropTarget(event);
  if (!target) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "move";
  target.classList.add("drop-over");
}

function onFolderDragLeave(event) {
  event.target.closest?.(".drop-over")?.classList.remove("drop-over");
}

async function onFolderDrop(event) {
  const target = folderDropTarget(event);
  if (!target) return;
  event.preventDefault();
  target.classList.remove("drop-over");
  onCardDragEnd(); // the card may leave the page before its own "dragend" could reach it
  try {
    await moveFile(event.dataTransfer.getData(FILE_DRAG), target.dataset.folder || null);
  } catch (error) {
    say(`Not moved: ${error}`, { error: true });
  }
}

function onAppClick(event) {
  const twisty = event.target.closest("#folder-tree .twisty");
  const folder = event.target.closest("#folder-tree .folder, #crumbs .crumb");
  const move = event.target.closest("#gallery .card .move");
  if (twisty) toggleFolder(twisty);
  else if (folder) openFolderView(folder.dataset.folder);
  else if (move) openMoveDialog(move);
}

function wireFolders() {
  openFolder = $("#f-folder").value || null;
  const app = $("#app");
  app.addEventListener("click", onAppClick);
  app.addEventListener("dragstart", onCardDragStart);
  app.addEventListener("dragend", onCardDragEnd);
  app.addEventListener("dragover", onFolderDragOver);
  app.addEventListener("dragleave", onFolderDragLeave);
  app.addEventListener("drop", onFolderDrop);
  $("#new-folder").addEventListener("click", () => showNewFolder($("#new-folder-form").hidden));
  $("#new-folder-cancel").addEventListener("click", () => showNewFolder(false));
  $("#new-folder-form").addEventListener("submit", createFolder);
  $("#new-folder-form").addEventListener("keydown", (event) => {
    if (event.key === "Escape") showNewFolder(false);
  });
  const dialog = $("#move");
  $("#move-form").addEventListener("submit", onMoveSubmit);
  $("#move-cancel").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", onMoveClosed);
}

// --- the detail view ------------------------------------------------------------------------

let openFileId = null;

// Opens a file's detail view, or (`again`) shows the open one as the file now stands, unless
// it was closed meanwhile.
async function openDetail(id, { again = false } = {}) {
  const dialog = $("#detail");
  const { body } = await call(`/ui/files/${encodeURIComponent(id)}`, { html: true });
  if (again && (openFileId !== id || !dialog.open)) return;
  openFileId = id;
  $("#detail-body").replaceChildren(fragment(body));
  if (!dialog.open) dialog.showModal();
  loadSimilar(id);
}

async function loadSimilar(id) {
  const list = $("#similar");
  try {
    const { body } = await call(`/ui/files/${encodeURIComponent(id)}/similar`, { html: true });
    if (openFileId !== id) return;
    const cards = fragment(body);
    if (cards.querySelector(".card")) list.replaceChildren(cards);
    else list.replaceWith(cards);
  } catch (error) {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: `${error}` }));
  }
}

// `#file=ID`, or `#file=ID&t=SECONDS` for a video found by a scene's words: it opens there.
function fileFromHash() {
  const match = /^#file=([0-9A-Za-z-]+)(?:&t=(\d+(?:\.\d+)?))?$/.exec(location.hash);
  if (!match) return null;
  return { id: match[1], at: match[2] === undefined ? null : Number(match[2]) };
}

function onHashChange() {
  const wanted = fileFromHash();
  if (!wanted && $("#detail").open) $("#detail").close(); // the back button closes the detail
  if (wanted && apiKey) {
    openDetail(wanted.id)
      .then(() => {
        if (wanted.at !== null) showMoment(wanted.at);
      })
      .catch((error) => {
        $("#gallery-error").textContent = `${error}`;
      });
  }
}

function onDetailClosed() {
  openFileId = null;
  if (fileFromHash()) history.replaceState(null, "", location.pathname + location.search);
}

async function onDetailSubmit(event) {
  const form = event.target.closest("form[data-action='update']");
  if (!form) return;
  event.preventDefault();
  const data = new FormData(form);
  const tags = String(data.get("tags"))
    .split(",")
    .map((tag) => tag.trim())
    .filter(Boolean);
  const saved = $(".saved", form);
  saved.textContent = "Saving…";
  try {
    await call(`/api/v2/files/${openFileId}`, {
      method: "PATCH",
      json: { title: String(data.get("title")).trim() || null, tags },
    });
  } catch (error) {
    saved.textContent = `Not saved: ${error}`;
    return;
  }
  const id = openFileId;
  await openDetail(id);
  $("#detail-body .saved").textContent = "Saved";
  await refreshCards([id]).catch(() => {});
}

async function onDetailClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const id = openFileId;
  if (button.dataset.action === "page") {
    await showPage(id, Number(button.dataset.page)).catch(showDetailError);
  } else if (button.dataset.action === "scene") {
    seekToScene(button);
  } else if (button.dataset.action === "describe") {
    button.disabled = true;
    await call(`/api/v2/files/${id}/describe`, { method: "POST" }).catch(showDetailError);
    await openDetail(id);
    refreshCards([id]).catch(() => {}); // queued now; events tell how it ends
  } else if (button.dataset.action === "delete") {
    if (!confirm(`Delete “${button.dataset.name}”? It can be restored for 30 days.`)) return;
    try {
      await call(`/api/v2/files/${id}`, { method: "DELETE" });
    } catch (error) {
      showDetailError(error);
      return;
    }
    $("#detail").close();
    $(`#gallery .card[data-id="${id}"]`)?.remove();
    summarize((total -= 1)); // its event brings the folder counts
  }
}

// A document's page viewer: the page large with its text boxes, and its text.
async function showPage(id, number) {
  const path = `/ui/files/${encodeURIComponent(id)}/pages/${number}`;
  const { body } = await call(path, { html: true });
  if (openFileId !== id) return;
  $("#page-view").replaceWith(fragment(body));
  for (const thumb of $$("#detail-body .page-thumb")) {
    if (Number(thumb.dataset.page) === number) {
      thumb.setAttribute("aria-current", "page");
      thumb.scrollIntoView({ block: "nearest", inline: "nearest" });
    } else {
      thumb.removeAttribute("aria-current");
    }
  }
}

// The scene of the open video that is on screen at `seconds`, shown from its start.
function showMoment(seconds) {
  const scene = $$("#video-view .scene-thumb").findLast(
    (thumb) => Number(thumb.dataset.start) <= seconds,
  );
  if (scene) seekToScene(scene);
}

// A video's scene strip: a scene's thumbnail moves the player to the scene's start (the
// original answers Range requests, so the browser fetches only what it plays from there).
function seekToScene(button) {
  const player = $("#player");
  if (!player) return;
  player.currentTime = Number(button.dataset.start);
  markScene(button.dataset.scene);
}

// Marks scene `index` in the strip and in the notes, and scrolls both lists (never the dialog:
// the person may be reading elsewhere in it while the video plays) to show it.
function markScene(index) {
  for (const item of $$("#video-view [data-scene]")) {
    if (item.dataset.scene !== index) {
      item.removeAttribute("aria-current");
    } else if (item.getAttribute("aria-current") !== "true") {
      item.setAttribute("aria-current", "true");
      const list = item.closest("ol");
      const shown = item.closest("li");
      list.scrollLeft = shown.offsetLeft - list.offsetLeft - list.clientWidth / 3;
      list.scrollTop = shown.offsetTop - list.offsetTop;
    }
  }
}

// While the video plays, the scene on screen is the one marked.
function onPlayerTime(event) {
  if (event.target.id !== "player") return;
  const time = event.target.currentTime;
  const playing = $$("#video-view .scene-thumb").findLast(
    (thumb) => Number(thumb.dataset.start) <= time,
  );
  if (playing) markScene(playing.dataset.scene);
}

function showDetailError(error) {
  const note = document.createElement("p");
  note.className = "error";
  note.setAttribute("role", "alert");
  note.textContent = `${error}`;
  $("#detail-body .facts")?.prepend(note);
}

// Text regions: hovering or focusing a box shows its text beside it.
function onRegion(event) {
  const region = event.target.closest?.(".region");
  const output = $("#region-text");
  if (!output) return;
  if (!region || event.type === "pointerout" || event.type === "focusout") {
    output.hidden = true;
    return;
  }
  const frame = region.closest(".frame").getBoundingClientRect();
  const box = region.getBoundingClientRect();
  output.textContent = region.dataset.text;
  output.hidden = false;
  output.style.left = `${Math.max(0, box.left - frame.left)}px`;
  output.style.top = `${box.bottom - frame.top + 4}px`;
}

// Extracted fields: hovering or focusing a field's row lights the box its value was read from,
// where the view shows it (a document's box, on its page only).
function onField(event) {
  const row = event.target.closest?.("tr[data-source]");
  if (!row) return;
  const lit = event.type === "pointerover" || event.type === "focusin";
  for (const box of $$("#detail-body .source")) {
    box.classList.toggle("lit", lit && box.dataset.source === row.dataset.source);
  }
}

function onDetailChange(event) {
  if (event.target.id === "show-regions") {
    $("#detail-body .regions").classList.toggle("hidden", !event.target.checked);
  }
}

// --- blurhash placeholders (https://blurha.sh, decoded as the reference implementation does) --

const BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

function decode83(text) {
  let value = 0;
  for (const char of text) {
    const digit = BASE83.indexOf(char);
    if (digit < 0) throw new Error("not a blurhash");
    value = value * 83 + digit;
  }
  return value;
}

const toLinear = (v) => {
  const x = v / 255;
  return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
};
const toSrgb = (v) => {
  const x = Math.max(0, Math.min(1, v));
  return x <= 0.0031308
    ? Math.trunc(x * 12.92 * 255 + 0.5)
    : Math.trunc((1.055 * x ** (1 / 2.4) - 0.055) * 255 + 0.5);
};
const signPow = (v, e) => Math.sign(v) * Math.abs(v) ** e;

function decodeBlurhash(hash, width, height) {
  const size = decode83(hash[0]);
  const nx = (size % 9) + 1;
  const ny = Math.floor(size / 9) + 1;
  if (hash.length !== 4 + 2 * nx * ny) throw new Error("not a blurhash");
  const maximum = (decode83(hash[1]) + 1) / 166;
  const colors = [];
  for (let i = 0; i < nx * ny; i += 1) {
    if (i === 0) {
      const dc = decode83(hash.substring(2, 6));
      colors.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
    } else {
      const ac = decode83(hash.substring(4 + i * 2, 6 + i * 2));
      colors.push(
        [Math.floor(ac / 361), Math.floor(ac / 19) % 19, ac % 19].map(
          (q) => signPow((q - 9) / 9, 2) * maximum,
        ),
      );
    }
  }
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let j = 0; j < ny; j += 1) {
        for (let i = 0; i < nx; i += 1) {
          const basis = Math.cos((Math.PI * x * i) / width) * Math.cos((Math.PI * y * j) / height);
          const color = colors[i + j * nx];
          r += color[0] * basis;
          g += color[1] * basis;
          b += color[2] * basis;
        }
      }
      const at = 4 * (x + y * width);
      pixels.set([toSrgb(r), toSrgb(g), toSrgb(b), 255], at);
    }
  }
  return pixels;
}

function paintBlurhashes(root) {
  for (const canvas of root.querySelectorAll("canvas[data-blurhash]")) {
    try {
      const pixels = decodeBlurhash(canvas.dataset.blurhash, canvas.width, canvas.height);
      canvas.getContext("2d").putImageData(new ImageData(pixels, canvas.width), 0, 0);
    } catch {
      canvas.remove(); // a placeholder is a nicety: never let one break the page
    }
  }
}

// --- start ----------------------------------------------------------------------------------

function start() {
  $("#sign-in-form").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", () => signOut());
  $("#filters").addEventListener("submit", applyFilters);
  $("#filters").addEventListener("change", (event) => {
    if (event.target.name !== "search") applyFilters(event);
  });
  wireDropzone();
  wireFolders();
  $("#link-form").addEventListener("submit", addLink);
  loadMoreWhenSeen();
  const dialog = $("#detail");
  dialog.addEventListener("close", onDetailClosed);
  dialog.addEventListener("submit", onDetailSubmit);
  dialog.addEventListener("click", onDetailClick);
  dialog.addEventListener("change", onDetailChange);
  dialog.addEventListener("timeupdate", onPlayerTime, true); // media events do not bubble
  for (const type of ["pointerover", "pointerout", "focusin", "focusout"]) {
    dialog.addEventListener(type, onRegion);
    dialog.addEventListener(type, onField);
  }
  $("#detail-close").addEventListener("click", () => dialog.close());
  window.addEventListener("hashchange", onHashChange);
  document.addEventListener("visibilitychange", onVisibilityChange);
  // Images fade in over their placeholder once loaded ("load" does not bubble: capture it).
  document.addEventListener(
    "load",
    (event) => {
      if (event.target.tagName === "IMG") event.target.classList.add("loaded");
    },
    true,
  );
  if (apiKey) {
    showApp(true);
    loadGallery()
      .then(onHashChange)
      .catch(() => {})
      .then(startEvents); // after the gallery: what it shows is where following starts
    refreshFolders();
  } else {
    showApp(false);
  }
}

window.Scopix = { decodeBlurhash, readEvents };
start();
